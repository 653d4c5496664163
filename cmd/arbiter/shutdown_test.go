package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
)

// servedBinary is an `arbiter serve` process a test started on a free
// loopback port with the e2e rules.
type servedBinary struct {
	cmd    *exec.Cmd
	base   string
	addr   string
	logs   *syncBuffer
	exited chan error
}

// startServe builds the binary and starts `arbiter serve --no-auth` with
// extra flags, and waits until /readyz answers 200.
func startServe(t *testing.T, extra ...string) *servedBinary {
	t.Helper()
	return startServeRules(t, "testdata/e2e/rules", extra...)
}

// startServeRules is startServe with a copy of the rules directory rules.
func startServeRules(t *testing.T, rules string, extra ...string) *servedBinary {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	copyDir(t, rules, rulesDir)
	bin := filepath.Join(dir, "arbiter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The port is free when freePort looks, but a test running beside this
	// one may take it before serve listens: then serve exits at once, and
	// it is started again on another port.
	for attempt := 1; ; attempt++ {
		sb, inUse := launchServe(t, bin, rulesDir, extra)
		if !inUse {
			return sb
		}
		if attempt == 3 {
			t.Fatalf("serve found its port taken 3 times:\n%s", sb.logs.String())
		}
	}
}

// launchServe starts serve on a port freePort found and waits until
// /readyz answers 200; inUse says serve exited because the port was taken
// meanwhile.
func launchServe(t *testing.T, bin, rulesDir string, extra []string) (sb *servedBinary, inUse bool) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	sb = &servedBinary{base: "http://" + addr, addr: addr, logs: &syncBuffer{}, exited: make(chan error, 1)}
	args := append([]string{"serve", "--rules", rulesDir, "--addr", addr, "--no-auth", "--log-format", "json"}, extra...)
	sb.cmd = exec.Command(bin, args...)
	sb.cmd.Env = append(os.Environ(), "ARBITER_API_KEYS=", "ARBITER_REDIS_URL=", "ARBITER_NATS_URL=")
	sb.cmd.Stdout, sb.cmd.Stderr = sb.logs, sb.logs
	if err := sb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { sb.exited <- sb.cmd.Wait() }()
	t.Cleanup(func() {
		if sb.cmd.ProcessState == nil {
			_ = sb.cmd.Process.Kill()
			<-sb.exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", sb.logs.String())
		}
	})
	poll(t, "GET /readyz", 60*time.Second, func() bool {
		select {
		case err := <-sb.exited:
			if strings.Contains(sb.logs.String(), "address already in use") {
				inUse = true
				return true
			}
			t.Fatalf("serve exited early: %v\n%s", err, sb.logs.String())
		default:
		}
		code, _, err := getJSON(sb.base + "/readyz")
		return err == nil && code == 200
	})
	return sb, inUse
}

// terminate sends SIGTERM and returns how long the process took to exit.
func (sb *servedBinary) terminate(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := sb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sb.exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("serve did not exit within %v of SIGTERM", limit)
	}
	return time.Since(start)
}

const decideBody = `{"customer_id": "c-1", "placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 60, "quantity": 2}]}}`

// keepAliveClient sends POST /v1/decide on one keep-alive connection after
// another, as a load balancer's pool would, until told to stop or the
// server refuses new connections. A request written whose answer never
// comes (reset, EOF) is counted as lost. An answer with "Connection:
// close" ends the connection; the client then opens a new one only while
// it has not seen the server draining (a load balancer stops sending to a
// replica that is not ready).
type keepAliveClient struct {
	addr     string
	answered atomic.Int64
	closes   atomic.Int64 // answers with Connection: close
	lost     atomic.Int64
	mu       sync.Mutex
	errs     []string
}

func (c *keepAliveClient) run(stop <-chan struct{}, draining *atomic.Bool) {
	req := "POST /v1/decide HTTP/1.1\r\nHost: arbiter\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(decideBody)) + "\r\n\r\n" + decideBody
	for {
		select {
		case <-stop:
			return
		default:
		}
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err != nil {
			return // the server is gone
		}
		br := bufio.NewReader(conn)
		for {
			select {
			case <-stop:
				conn.Close()
				return
			default:
			}
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, req); err != nil {
				c.lose(err)
				break
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				c.lose(err)
				break
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			c.answered.Add(1)
			if res.Close {
				c.closes.Add(1)
				draining.Store(true)
				break
			}
		}
		conn.Close()
		if draining.Load() {
			return
		}
	}
}

func (c *keepAliveClient) lose(err error) {
	c.lost.Add(1)
	c.mu.Lock()
	if len(c.errs) < 5 {
		c.errs = append(c.errs, err.Error())
	}
	c.mu.Unlock()
}

// TestShutdownDrainsKeepAlive: clients send continuously on keep-alive
// connections; on SIGTERM the server reports not ready, answers every
// request already sent and closes each connection after its answer
// (Connection: close) during --drain-delay, then stops within
// --shutdown-timeout. No request sent is reset.
func TestShutdownDrainsKeepAlive(t *testing.T) {
	const drain, bound = 1 * time.Second, 5 * time.Second
	sb := startServe(t, "--shutdown-timeout", bound.String(), "--drain-delay", drain.String())

	const n = 16
	clients := make([]*keepAliveClient, n)
	stop := make(chan struct{})
	var draining atomic.Bool
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &keepAliveClient{addr: sb.addr}
		wg.Add(1)
		go func() { defer wg.Done(); clients[i].run(stop, &draining) }()
	}
	total := func() (answered, lost, closes int64) {
		for _, c := range clients {
			answered += c.answered.Load()
			lost += c.lost.Load()
			closes += c.closes.Load()
		}
		return
	}
	poll(t, "1000 answers before SIGTERM", 30*time.Second, func() bool { a, _, _ := total(); return a >= 1000 })

	// /readyz turns 503 during the drain, while the process still answers.
	notReady := make(chan int, 1)
	go func() {
		for {
			code, _, err := getJSON(sb.base + "/readyz")
			if err != nil {
				notReady <- 0
				return
			}
			if code == 503 {
				notReady <- code
				return
			}
		}
	}()
	took := sb.terminate(t, 3*bound)
	close(stop)
	wg.Wait()
	answered, lost, closes := total()
	var errs []string
	for _, c := range clients {
		errs = append(errs, c.errs...)
	}
	t.Logf("SIGTERM to exit %v (--drain-delay %v, --shutdown-timeout %v); %d answered, %d answers with Connection: close, %d requests lost %v",
		took.Round(time.Millisecond), drain, bound, answered, closes, lost, errs)
	if lost != 0 {
		t.Errorf("%d requests sent on keep-alive connections were reset or left unanswered: %v", lost, errs)
	}
	if closes == 0 {
		t.Error("no answer during the drain said Connection: close")
	}
	if code := <-notReady; code != 503 {
		t.Error("/readyz never answered 503 between SIGTERM and exit")
	}
	if took < drain {
		t.Errorf("exited %v after SIGTERM, before the drain delay of %v", took, drain)
	}
	if took > bound {
		t.Errorf("exited %v after SIGTERM, beyond --shutdown-timeout %v", took, bound)
	}
}

// freezingProxy forwards TCP connections to a server until frozen; frozen,
// it keeps every connection open and passes nothing on (a hung server).
type freezingProxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	closed atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(func() {
		p.closed.Store(true)
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *freezingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

func (p *freezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() && !p.closed.Load() {
			// Hung: read nothing more, write nothing; the peers wait.
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *freezingProxy) URL() string { return "nats://" + p.ln.Addr().String() }

// TestShutdownBoundedWithNATSHung: NATS stops answering (the connection
// stays open) with events waiting; SIGTERM exits within
// --shutdown-timeout all the same.
func TestShutdownBoundedWithNATSHung(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	emb, err := events.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop)
	proxy := newFreezingProxy(t, strings.TrimPrefix(emb.URL, "nats://"))
	const bound = 3 * time.Second
	sb := startServe(t, "--nats", proxy.URL(), "--shutdown-timeout", bound.String(), "--drain-delay", "500ms")
	post := func() {
		res, err := http.Post(sb.base+"/v1/decide", "application/json", strings.NewReader(decideBody))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("decide: %d", res.StatusCode)
		}
	}
	post()
	proxy.frozen.Store(true)
	for i := 0; i < 200; i++ {
		post() // events wait in the publisher's buffer
	}
	took := sb.terminate(t, 10*bound)
	t.Logf("SIGTERM to exit with NATS hung: %v (--shutdown-timeout %v)", took.Round(time.Millisecond), bound)
	if took > bound+250*time.Millisecond {
		t.Errorf("exit took %v with NATS hung, beyond --shutdown-timeout %v", took, bound)
	}
	if !strings.Contains(sb.logs.String(), "events not flushed") {
		t.Error("the events left unpublished are not logged")
	}
}

func TestDrainDelayFlags(t *testing.T) {
	cases := []struct {
		args      []string
		wantDrain time.Duration
		wantErr   string
	}{
		{nil, 5 * time.Second, ""},
		{[]string{"--shutdown-timeout", "5s"}, 2500 * time.Millisecond, ""}, // the default drain takes half
		{[]string{"--drain-delay", "0"}, 0, ""},
		{[]string{"--drain-delay", "8s", "--shutdown-timeout", "10s"}, 8 * time.Second, ""},
		{[]string{"--drain-delay", "10s"}, 0, "less than --shutdown-timeout"},
		{[]string{"--drain-delay", "-1s"}, 0, "0 or more"},
		{[]string{"--shutdown-timeout", "0s"}, 0, "positive duration"},
	}
	for _, c := range cases {
		var cfg serveConfig
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		newServeFlags(fs, &cfg)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := cfg.checkShutdown(given(fs, "drain-delay"))
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.wantErr)
		case c.wantErr == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.wantErr == "" && cfg.drainDelay != c.wantDrain:
			t.Errorf("%v: drain %v, want %v", c.args, cfg.drainDelay, c.wantDrain)
		}
	}
}

// TestShutdownSignalsDuringDrain: signals that come while serve drains
// neither cut the drain short nor kill the process: a second SIGTERM or a
// SIGINT is ignored (the stop is already bounded by --shutdown-timeout)
// and a SIGHUP (a rules sync sidecar asking for a reload) too. Before, the
// SIGHUP handler was removed when the drain began, so a SIGHUP then killed
// the process at once (Go's default for SIGHUP), its buffered events
// unpublished.
func TestShutdownSignalsDuringDrain(t *testing.T) {
	const drain, bound = 1500 * time.Millisecond, 5 * time.Second
	sb := startServe(t, "--shutdown-timeout", bound.String(), "--drain-delay", drain.String())
	start := time.Now()
	if err := sb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The drain has begun once /readyz says 503.
	poll(t, "/readyz at 503", bound, func() bool {
		code, _, err := getJSON(sb.base + "/readyz")
		return err == nil && code == 503
	})
	for _, sig := range []os.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT} {
		if err := sb.cmd.Process.Signal(sig); err != nil {
			t.Fatalf("%v: %v", sig, err)
		}
	}
	select {
	case err := <-sb.exited:
		took := time.Since(start)
		if err != nil {
			t.Errorf("exit after SIGTERM then SIGHUP, SIGTERM and SIGINT during the drain: %v", err)
		}
		if took < drain {
			t.Errorf("exited %v after SIGTERM, before the drain delay of %v", took, drain)
		}
		if !strings.Contains(sb.logs.String(), `"msg":"stopped"`) {
			t.Error("the log does not say stopped")
		}
	case <-time.After(3 * bound):
		t.Fatalf("serve did not exit within %v of SIGTERM", 3*bound)
	}
}

// TestShutdownWithNATSDownSaysWhatWasLost: NATS is down for the whole
// run, so the flush uses up the shutdown's time. The log says how many
// events were lost, and does not claim that the background consumers
// hung: they are stopped while the events flush, not given what is left
// of the time after it (none). Before, the line said "buffered": 0 beside
// "2 events not published", followed by three warnings that the learning
// refresher, the feedback consumer and the experiment counters "had not
// stopped at the shutdown timeout".
func TestShutdownWithNATSDownSaysWhatWasLost(t *testing.T) {
	down := "nats://127.0.0.1:" + strconv.Itoa(freePort(t)) // nothing listens there
	const bound = 2 * time.Second
	sb := startServe(t, "--nats", down, "--shutdown-timeout", bound.String(), "--drain-delay", "0")
	const decisions = 3
	for range decisions {
		res, err := http.Post(sb.base+"/v1/decide", "application/json", strings.NewReader(decideBody))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("decide: %d", res.StatusCode)
		}
	}
	sb.terminate(t, 5*bound)
	var lost float64 = -1
	for _, line := range strings.Split(sb.logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		msg, _ := l["msg"].(string)
		if strings.Contains(msg, "had not stopped") {
			t.Errorf("a background task is said to hang: %s", line)
		}
		if msg == "events not flushed at the shutdown timeout" {
			lost, _ = l["lost"].(float64)
		}
	}
	// The start-up's rules event and one event a decision.
	if lost < decisions+1 {
		t.Errorf("the log says %v events lost, want at least %d (the decisions' and the start-up's)", lost, decisions+1)
	}
}
