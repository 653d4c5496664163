package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// proc is a process a scenario started: an arbiter, a redis-server or a
// nats-server. It can be killed, stopped, continued and started again
// with the same command line.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string
	addr string // host:port it serves on

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// procs are the processes of one scenario; killAll ends every one.
type procs struct {
	mu    sync.Mutex
	list  []*proc
	dir   string
	given map[int]bool // the ports handed out (freePort)
}

func (ps *procs) add(p *proc) {
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
}

// killAll ends every process of the scenario (continuing stopped ones
// first, so that SIGKILL reaches them at once).
func (ps *procs) killAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.list {
		p.kill()
	}
}

// start starts the process (again) with its command line.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if p.env != nil {
		cmd.Env = append(os.Environ(), p.env...)
	}
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		lf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

func (p *proc) running() bool {
	_, done := p.current()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(sig syscall.Signal) {
	cmd, _ := p.current()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// errStateUnknown: the system does not tell a process's state.
var errStateUnknown = errors.New("a process's state is not known on this system")

// statState reads the state letter of a process from its /proc/PID/stat
// line: the field after the command name, which is in parentheses and
// may itself hold spaces and parentheses.
func statState(stat string) (byte, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+1] != ' ' {
		return 0, fmt.Errorf("not a /proc/PID/stat line: %.60q", stat)
	}
	return stat[i+2], nil
}

// hang stops the process with SIGSTOP and waits until the system shows
// it stopped: a scenario measures a hung server only once it is hung. An
// error when the process is not running or did not stop within 2 s.
func (p *proc) hang(ctx context.Context) error {
	p.signal(syscall.SIGSTOP)
	return p.waitStopped(ctx)
}

// waitStopped waits until the process shows stopped (state T), at most
// 2 s; an error when it is not running or did not stop.
func (p *proc) waitStopped(ctx context.Context) error {
	cmd, done := p.current()
	if cmd == nil || cmd.Process == nil || !p.running() {
		return fmt.Errorf("stopping %s: it is not running", p.name)
	}
	var state byte
	var err error
	if !until(ctx, 2*time.Second, func() bool {
		select {
		case <-done:
			err = errors.New("it exited")
			return true
		default:
		}
		state, err = procState(cmd.Process.Pid)
		return errors.Is(err, errStateUnknown) || err == nil && state == 'T'
	}) {
		return fmt.Errorf("stopping %s: not stopped within 2 s (state %q, %v)", p.name, state, err)
	}
	if err != nil && !errors.Is(err, errStateUnknown) {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	return nil
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	cmd, done := p.current()
	if cmd == nil || done == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	<-done
}

// wait waits for the process to exit, at most d; false if it still runs.
func (p *proc) wait(d time.Duration) bool {
	_, done := p.current()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// freePort returns a loopback port free right now, below the kernel's
// range of ephemeral ports where it can (net.ipv4.ip_local_port_range,
// 32768-60999 by default), and none the scenario was given before. A
// server the suite starts keeps its port for the scenario and is started
// again on it after a kill; a port of the ephemeral range, free while the
// server is down, can meanwhile become the local port of any connection
// (the clients redialling the dead server among them: a dial to a port
// nobody listens on can even connect to itself), and the server then
// cannot bind it again. Below the range only an explicit choice takes it.
// bus: the port of a Redis Cluster node, whose cluster bus listens on the
// port + 10000; that one is free and below the range too.
func (ps *procs) freePort(bus bool) (int, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.given == nil {
		ps.given = map[int]bool{}
	}
	free := func(p int) bool {
		if ps.given[p] {
			return false
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}
	span := 0
	if bus {
		span = 10000
	}
	if hi := ephemeralLow() - span; hi > 11000 {
		for range 200 {
			p := 10000 + mrand.IntN(hi-10000)
			if free(p) && (!bus || free(p+span)) {
				ps.given[p], ps.given[p+span] = true, true
				return p, nil
			}
		}
	}
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !ps.given[p] {
			ps.given[p] = true
			return p, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

// ephemeralLow is the lowest ephemeral port, 0 when unknown (not Linux).
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

func (ps *procs) freeAddr() (string, error) {
	port, err := ps.freePort(false)
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// newProc starts a process and registers it with the scenario.
func (ps *procs) newProc(name, bin string, args, env []string, addr string) (*proc, error) {
	p := &proc{name: name, bin: bin, args: args, env: env, addr: addr,
		log: filepath.Join(ps.dir, strings.ReplaceAll(name, " ", "-")+".log")}
	if err := p.start(); err != nil {
		return nil, err
	}
	ps.add(p)
	return p, nil
}

// until polls ok every 50 ms until it is true, for at most d (polling a
// child process's readiness, not synchronising goroutines).
func until(ctx context.Context, d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisOpts are the options of a redis-server the suite starts.
type redisOpts struct {
	password string
	aof      bool // appendonly yes, appendfsync always
	cluster  bool
	extra    []string
}

// startRedis starts a redis-server on a free loopback port, its files in
// a directory of its own, and waits until it answers PING.
func (ps *procs) startRedis(ctx context.Context, name string, o redisOpts) (*proc, error) {
	port, err := ps.freePort(o.cluster)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(ps.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--hz", "100", "--logfile", ""}
	if o.aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if o.password != "" {
		args = append(args, "--requirepass", o.password)
	}
	if o.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0", "--repl-diskless-sync-delay", "0")
	}
	args = append(args, o.extra...)
	p, err := ps.newProc(name, "redis-server", args, nil, "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	if err := waitRedis(ctx, p, o.password); err != nil {
		return nil, err
	}
	return p, nil
}

func waitRedis(ctx context.Context, p *proc, password string) error {
	c := redis.NewClient(&redis.Options{Addr: p.addr, Password: password, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	if !until(ctx, 15*time.Second, func() bool { return c.Ping(ctx).Err() == nil }) {
		return fmt.Errorf("%s on %s did not answer PING within 15 s: see %s", p.name, p.addr, p.log)
	}
	return nil
}

// natsOpts are the options of a nats-server the suite starts.
type natsOpts struct {
	user, pass string
	// cluster: the cluster's name, this node's route port and every
	// node's route URL.
	cluster string
	route   int
	routes  []string
}

// startNATS starts a nats-server with JetStream on a free loopback port,
// its store in a directory of its own.
func (ps *procs) startNATS(ctx context.Context, name string, o natsOpts) (*proc, error) {
	port, err := ps.freePort(false)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(ps.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir, "-n", name}
	if o.user != "" {
		args = append(args, "--user", o.user, "--pass", o.pass)
	}
	if o.cluster != "" {
		args = append(args, "--cluster_name", o.cluster, "--cluster", "nats://127.0.0.1:"+strconv.Itoa(o.route),
			"--routes", strings.Join(o.routes, ","))
	}
	p, err := ps.newProc(name, "nats-server", args, nil, "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	if o.cluster == "" {
		if err := waitNATS(ctx, p, natsURL(p, o.user, o.pass)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func natsURL(p *proc, user, pass string) string {
	if user != "" {
		return "nats://" + user + ":" + pass + "@" + p.addr
	}
	return "nats://" + p.addr
}

// waitNATS waits until JetStream answers on url.
func waitNATS(ctx context.Context, p *proc, url string) error {
	ok := until(ctx, 30*time.Second, func() bool {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return false
		}
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = js.AccountInfo(c)
		return err == nil
	})
	if !ok {
		return fmt.Errorf("%s on %s: JetStream not ready within 30 s: see %s", p.name, p.addr, p.log)
	}
	return nil
}

// arbiterOpts are the options of an `arbiter serve` the suite starts.
type arbiterOpts struct {
	rules string
	redis string // URL; empty: embedded
	nats  string // URL; empty: embedded
	args  []string
}

// startArbiter starts `arbiter serve` on a free loopback port with the
// suite's API key and decision key, and waits until /readyz answers 200.
func (e *env) startArbiter(ctx context.Context, ps *procs, name string, o arbiterOpts) (*proc, error) {
	addr, err := ps.freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--rules", o.rules, "--addr", addr, "--decision-key", decisionKey,
		"--shutdown-timeout", "10s"}
	if o.redis != "" {
		args = append(args, "--redis", o.redis)
	}
	if o.nats != "" {
		args = append(args, "--nats", o.nats)
	}
	args = append(args, o.args...)
	env := []string{"ARBITER_API_KEYS=" + apiKey}
	p, err := ps.newProc(name, e.bin, args, env, addr)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// waitReady waits until the arbiter's /readyz answers 200.
func waitReady(ctx context.Context, p *proc) error {
	client := &http.Client{Timeout: time.Second}
	ok := until(ctx, 60*time.Second, func() bool {
		if !p.running() {
			return false
		}
		resp, err := client.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		return fmt.Errorf("%s on %s not ready (%v): see %s%s", p.name, p.addr, p.exitErr(), p.log, tail(p.log))
	}
	return nil
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > 1200 {
		data = data[len(data)-1200:]
	}
	return ":\n" + string(data)
}

// runOut runs a command to completion and returns its output.
func runOut(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return string(b), fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, b)
	}
	return string(b), nil
}

// serveHasFlag reports whether `arbiter serve --help` lists a flag: a
// scenario whose feature has not landed is reported as not run.
func (e *env) serveHasFlag(flag string) bool {
	out, _ := exec.Command(e.bin, "serve", "--help").CombinedOutput()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == flag {
			return true
		}
	}
	return false
}

var errNotRun = errors.New("not run")
