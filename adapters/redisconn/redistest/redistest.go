// Package redistest gives tests a Redis: the real one named by
// ARBITER_TEST_REDIS_URL when set (with a unique key prefix whose keys are
// deleted afterwards), else an in-process miniredis; and, for fault tests,
// redis-server processes (a single server that can be stopped and
// restarted, or a three-node Redis Cluster) on free loopback ports.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
)

// EnvURL names the environment variable with the real Redis's URL.
const EnvURL = "ARBITER_TEST_REDIS_URL"

// TestTimeout is the client timeout tests use: generous, because -race on a
// shared two-core machine is slow; fault tests set their own.
const TestTimeout = 2 * time.Second

// Client returns a client and a unique key prefix ("arbiter-test:NAME:RANDOM:").
// With ARBITER_TEST_REDIS_URL it is the real Redis, and every key under the
// prefix is deleted when the test ends; else a fresh miniredis. real says
// which.
func Client(t testing.TB) (c redis.UniversalClient, prefix string, real bool) {
	t.Helper()
	prefix = UniquePrefix(t)
	if url := os.Getenv(EnvURL); url != "" {
		c, err := redisconn.OpenWith(url, redisconn.Options{Timeout: TestTimeout})
		if err != nil {
			t.Fatalf("%s: %v", EnvURL, err)
		}
		t.Cleanup(func() {
			DeletePrefix(t, c, prefix)
			c.Close()
		})
		return c, prefix, true
	}
	c, _, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: TestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return c, prefix, false
}

// UniquePrefix returns a key prefix unique to this test run.
func UniquePrefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", "_", " ", "_", "{", "", "}", "").Replace(t.Name())
	return "arbiter-test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// DeletePrefix deletes every key under prefix (on every master of a
// cluster).
func DeletePrefix(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A page of SCAN at a time, its keys unlinked in one pipeline (one
	// command a key: on a cluster node a page spans slots). One DEL a round
	// trip took more than the 10 s this had for TestMemorySizing's 40,000
	// keys under CI's load, and left keys behind for a week.
	del := func(ctx context.Context, n redis.UniversalClient) error {
		var cursor uint64
		for {
			keys, next, err := n.Scan(ctx, cursor, prefix+"*", 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if _, err := n.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, k := range keys {
						p.Unlink(ctx, k)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		t.Logf("cleaning up %s*: %v", prefix, err)
	}
}

// ServerBinary returns the path of redis-server, or "" when missing.
func ServerBinary() string {
	for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	return ""
}

// FreePort returns a loopback port nothing listens on now, chosen below
// the kernel's range of ephemeral ports where it can
// (net.ipv4.ip_local_port_range, 32768-60999 by default). A port from that
// range, free when chosen, can be taken by any connection's local address
// before the server the test starts binds it (and redis-server then exits);
// below it, only another test's explicit choice can take it, which
// startServer survives by choosing again.
func FreePort(t testing.TB) int {
	t.Helper()
	if lo := ephemeralLow(); lo > 20000 {
		for range 50 {
			p := 10000 + mrand.IntN(lo-10000)
			if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				ln.Close()
				return p
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ephemeralLow returns the lowest ephemeral port, or 0 when unknown (not
// Linux).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

// Server is a redis-server process this test started.
type Server struct {
	t    testing.TB
	bin  string
	Port int
	Addr string
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  string        // the file its output goes to
}

// errExited says that redis-server exited before it answered.
var errExited = errors.New("redis-server exited before it answered")

// StartServer starts redis-server on a free port (no persistence), or skips
// the test, saying why, when redis-server is missing. It is stopped when
// the test ends.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	return startServer(t, func() []string { return extra })
}

// startServer starts redis-server with the arguments extra returns. A port
// that was free when chosen may be taken before redis-server binds it (by
// another test package's server, or a connection's local port): when the
// server exits before it answers, it is started again on fresh ports (extra
// is called again), up to three times, and its output is logged.
func startServer(t testing.TB, extra func() []string) *Server {
	t.Helper()
	bin := ServerBinary()
	if bin == "" {
		t.Skip("redis-server not found (looked in /usr/bin, /usr/local/bin and PATH): install redis-server to run this test")
	}
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		s := &Server{t: t, bin: bin, Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port),
			log: filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")}
		s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir}, extra()...)
		err := s.start()
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v; starting it again on other ports", attempt, err)
	}
}

// Start starts the server (again) on its port and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) start() error {
	// The output goes to a file: the server (and any child it forks) write
	// to it directly, and Wait waits for the server alone.
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // the server has its own copy
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("%w (on %s, %s); its output:\n%s", errExited, s.Addr, cmd.ProcessState, s.output())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redis-server on %s did not answer within 10s; its output:\n%s", s.Addr, s.output())
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	// What answered is this server, not another test's that holds the
	// port (this one then exits, or is about to).
	if pid, err := serverPID(c); err != nil || pid != cmd.Process.Pid {
		s.Stop()
		return fmt.Errorf("%w (on %s another server answered: process %d, %v); its output:\n%s", errExited, s.Addr, pid, err, s.output())
	}
	return nil
}

// serverPID returns the process id the server at c reports (INFO server).
func serverPID(c *redis.Client) (int, error) {
	info := c.InfoMap(context.Background(), "server")
	if err := info.Err(); err != nil {
		return 0, err
	}
	pid := info.Item("Server", "process_id")
	if pid == "" {
		return 0, errors.New("INFO server has no process_id")
	}
	return strconv.Atoi(pid)
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// output returns the last 16 KiB the server printed (its start-up, and
// any reason it stopped).
func (s *Server) output() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-16<<10):])
}

// Cluster is a Redis Cluster on loopback started by the test.
type Cluster struct {
	Servers []*Server
	Addrs   []string
}

// ClusterOptions shape a test cluster.
type ClusterOptions struct {
	Masters  int // default 3
	Replicas int // replicas per master (redis-cli --cluster-replicas); default 0
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica takes over; default 2 s.
	NodeTimeout time.Duration
}

// StartCluster starts three redis-server nodes with cluster mode on and
// joins them with redis-cli --cluster create; it skips the test when
// redis-server or redis-cli is missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	return StartClusterWith(t, ClusterOptions{})
}

// StartClusterWith starts a cluster of o.Masters masters with o.Replicas
// replicas each, and waits until every node reports the cluster ok and
// every replica is attached; it skips the test when redis-server or
// redis-cli is missing.
func StartClusterWith(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Masters <= 0 {
		o.Masters = 3
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 2 * time.Second
	}
	if ServerBinary() == "" {
		t.Skip("redis-server not found: install redis-server to run the Redis Cluster test")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not found: install redis-tools to run the Redis Cluster test")
	}
	cl := &Cluster{}
	for i := 0; i < o.Masters*(1+o.Replicas); i++ {
		// The cluster bus on a free port of its own: by default it is the
		// node's port + 10,000, which may be taken, and for a port above
		// 55,535 (a fifth of Linux's ephemeral range) redis-server refuses
		// to start. Chosen again, with the node's port, on a retry.
		s := startServer(t, func() []string {
			dir := t.TempDir()
			return []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
				"--cluster-port", strconv.Itoa(FreePort(t))}
		})
		cl.Servers = append(cl.Servers, s)
		cl.Addrs = append(cl.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, cl.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node reports the cluster ok, sees every replica
	// connected to its master, and knows every node's role: a master
	// killed while another master does not yet know its replica as its
	// replica is not failed over (that master refuses its vote), as a
	// run under load once showed (TestClusterFailoverResumes, 30 s of
	// cluster_state:fail).
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range cl.Addrs {
		c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && clusterOK(info) && cl.replicasUp(c, o.Replicas) && rolesKnown(c, o.Masters, o.Masters*o.Replicas) {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok within 30s: %v %s", a, err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling with a deadline
		}
		c.Close()
	}
	return cl
}

// rolesKnown reports whether node c's CLUSTER NODES lists masters
// masters and replicas replicas, each replica with its master, and no
// node still in handshake or without an address.
func rolesKnown(c *redis.Client, masters, replicas int) bool {
	nodes, err := c.ClusterNodes(context.Background()).Result()
	if err != nil {
		return false
	}
	m, r := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			return false
		}
		flags := f[2]
		switch {
		case strings.Contains(flags, "handshake") || strings.Contains(flags, "noaddr") || strings.Contains(flags, "fail"):
			return false
		case strings.Contains(flags, "master"):
			m++
		case strings.Contains(flags, "slave") && f[3] != "-":
			r++
		}
	}
	return m == masters && r == replicas
}

// replicasUp reports whether node c knows every master to have want
// connected replicas (or is itself a replica in sync).
func (cl *Cluster) replicasUp(c *redis.Client, want int) bool {
	if want == 0 {
		return true
	}
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		return false
	}
	switch {
	case strings.Contains(info, "role:master"):
		return strings.Contains(info, "connected_slaves:"+strconv.Itoa(want))
	default:
		return strings.Contains(info, "master_link_status:up")
	}
}

// Master returns the server that is master of key's slot now.
func (cl *Cluster) Master(t testing.TB, key string) *Server {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	c.ReloadState(ctx)
	node, err := c.MasterForKey(ctx, key)
	if err != nil {
		t.Fatalf("master of %q: %v", key, err)
	}
	for _, s := range cl.Servers {
		if s.Addr == node.Options().Addr {
			return s
		}
	}
	t.Fatalf("master of %q is %s, not a node of the cluster", key, node.Options().Addr)
	return nil
}

// WaitOK waits until every running node but skip reports cluster_state:ok
// and the slot of key is served by a master other than skip (after a
// failover), by polling CLUSTER INFO and CLUSTER SHARDS; it returns how
// long it waited.
func (cl *Cluster) WaitOK(t testing.TB, key string, skip *Server, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx := context.Background()
	slot := Slot(key)
	for _, s := range cl.Servers {
		if s == skip {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && clusterOK(info) && servedBy(ctx, c, slot, skip.Addr) {
				break
			}
			if time.Since(start) > timeout {
				c.Close()
				t.Fatalf("node %s: cluster not ok within %v of a failover: %v %s", s.Addr, timeout, err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling with a deadline
		}
		c.Close()
	}
	return time.Since(start)
}

// servedBy reports whether node c sees slot served by a master other than
// not.
func servedBy(ctx context.Context, c *redis.Client, slot int, not string) bool {
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return false
	}
	for _, r := range slots {
		if slot >= r.Start && slot <= r.End && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr != not
		}
	}
	return false
}

// Slot is Redis Cluster's slot of key (CRC16 of its hash tag, mod 16384).
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

func clusterOK(info string) bool {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "cluster_state:ok" {
			return true
		}
	}
	return false
}

// URL returns the cluster's redis+cluster:// URL.
func (c *Cluster) URL() string { return fmt.Sprintf("redis+cluster://%s", strings.Join(c.Addrs, ",")) }
