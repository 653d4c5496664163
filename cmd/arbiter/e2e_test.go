package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// syncBuffer is a bytes.Buffer safe for the child's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// poll calls f until it returns true or the deadline passes.
func poll(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(url string) (int, map[string]any, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m, nil
}

// TestServeEndToEnd builds the binary and runs `arbiter serve` on a rules
// directory: decisions, a hot reload on a changed file, a broken file that
// leaves the old version serving, then SIGTERM and exit code 0.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	copyDir(t, "testdata/e2e/rules", rulesDir)
	if _, err := rulefiles.Load(rulesDir); err != nil {
		t.Fatalf("the test rules do not load: %v", err)
	}
	bin := filepath.Join(dir, "arbiter")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	var logs syncBuffer
	cmd := exec.Command(bin, "serve", "--rules", rulesDir, "--addr", "127.0.0.1:"+strconv.Itoa(port), "--no-auth",
		"--log-format", "json", "--shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), "ARBITER_API_KEYS=", "ARBITER_REDIS_URL=", "ARBITER_NATS_URL=", "GOMAXPROCS=", "ARBITER_PROCS=")
	// With the embedded NATS server, serve runs with twice the processors
	// Go would choose (procs.go): what this test process started with.
	wantProcs := embeddedProcsPerCPU * runtime.GOMAXPROCS(0)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()

	poll(t, "GET /readyz", 30*time.Second, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("serve exited early: %v\n%s", err, logs.String())
		default:
		}
		code, _, err := getJSON(base + "/readyz")
		return err == nil && code == 200
	})
	_, v1, _ := getJSON(base + "/v1/rules")
	first, _ := v1["version"].(string)
	if first == "" {
		t.Fatalf("GET /v1/rules: %v", v1)
	}

	decide := func() (int, map[string]any) {
		body := `{"customer_id": "c-1", "placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 60, "quantity": 2}]}}`
		res, err := http.Post(base+"/v1/decide", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	for i := 0; i < 5; i++ {
		code, m := decide()
		if code != 200 || m["ruleset"] != first {
			t.Fatalf("decide: %d %v", code, m)
		}
	}

	// A changed rule file: the new version is served.
	offer := filepath.Join(rulesDir, "offers", "welcome.yaml")
	if err := os.WriteFile(offer, []byte("offers:\n  - id: welcome\n    title: Welcome back\n    kind: action\n    priority: 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var second string
	poll(t, "the new version at /v1/rules", 10*time.Second, func() bool {
		_, m, err := getJSON(base + "/v1/rules")
		second, _ = m["version"].(string)
		return err == nil && second != "" && second != first
	})

	// A broken file: last_error shows, the old version keeps serving.
	if err := os.WriteFile(filepath.Join(rulesDir, "broken.yaml"), []byte("offers:\n  - id: nope\n    kind: action\n    when: profile.lvt > 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, "last_error at /v1/rules", 10*time.Second, func() bool {
		_, m, err := getJSON(base + "/v1/rules")
		return err == nil && m["last_error"] != nil
	})
	_, m, _ := getJSON(base + "/v1/rules")
	if m["version"] != second {
		t.Errorf("a broken file changed the version: %v", m["version"])
	}
	if !strings.Contains(logs.String(), "rules reload failed") {
		t.Error("the failed reload is not in the log")
	}
	if code, m := decide(); code != 200 || m["ruleset"] != second {
		t.Errorf("decide after a broken file: %d %v", code, m)
	}
	// Both versions served are kept in ARBITER_RULESETS, and the events
	// export with their requests.
	natsURL := regexp.MustCompile(`"msg":"embedded NATS with JetStream started","url":"(nats://[^"]+)"`).FindStringSubmatch(logs.String())
	if natsURL == nil {
		t.Fatalf("no embedded NATS URL in the log")
	}
	for _, v := range []string{first, second} {
		var files []rules.File
		poll(t, "ruleset "+v+" in ARBITER_RULESETS", 10*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var err error
			files, err = events.FetchRuleset(ctx, natsURL[1], "", v)
			return err == nil
		})
		if rs, err := rules.Compile(files); err != nil || rs.Version != v {
			t.Errorf("ruleset %s fetched compiles to %v, %v", v, rs, err)
		}
	}
	export := exec.Command(bin, "events", "export", "--nats", natsURL[1])
	out, err := export.Output()
	if err != nil {
		t.Fatalf("events export: %v", err)
	}
	decisions := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ev, err := wire.ParseDecisionEvent([]byte(line))
		if err != nil || ev.Type != "decision" {
			continue
		}
		decisions++
		if req, err := wire.DecodeDecide(ev.Request, 3); err != nil || req.CustomerID != "c-1" || len(req.Cart.Items) != 1 || ev.Now.IsZero() {
			t.Errorf("exported decision without its request: %s (%v)", line, err)
		}
	}
	if decisions != 6 {
		t.Errorf("events export wrote %d decisions, want 6:\n%s", decisions, out)
	}
	// The embedded stream is kept in memory, bounded
	// (defaultEmbeddedStreamMemory).
	if nc, err := nats.Connect(natsURL[1]); err != nil {
		t.Errorf("connect to the embedded NATS: %v", err)
	} else {
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := js.Stream(ctx, events.StreamName(events.DefaultPrefix))
		cancel()
		if err != nil {
			t.Errorf("the embedded stream: %v", err)
		} else if c := st.CachedInfo().Config; c.Storage != jetstream.MemoryStorage || c.MaxBytes != defaultEmbeddedStreamMemory {
			t.Errorf("the embedded stream is stored in %v, at most %d bytes; want memory, %d", c.Storage, c.MaxBytes, defaultEmbeddedStreamMemory)
		}
		nc.Close()
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(mb), `arbiter_rules_reloads_total{result="error"}`) {
		t.Error("the failed reload is not in the metrics")
	}
	if !strings.Contains(string(mb), "\narbiter_profile_bad_fields_total ") {
		t.Error("the profile store's bad fields are not in the metrics (docs/redis.md)")
	}
	if want := "\ngo_sched_gomaxprocs_threads " + strconv.Itoa(wantProcs) + "\n"; !strings.Contains(string(mb), want) {
		t.Errorf("the metrics have no %q: serve should run with %d processors (procs.go)", strings.TrimSpace(want), wantProcs)
	}

	// SIGTERM: a clean exit.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit within 20s of SIGTERM")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Error("no clean stop in the log")
	}
}

func TestServeHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, stdio{Out: &out, Err: io.Discard}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for name, env := range serveEnv {
		if !strings.Contains(out.String(), "--"+name) || !strings.Contains(out.String(), "$"+env) {
			t.Errorf("help lacks --%s or $%s", name, env)
		}
	}
	for _, def := range []string{"default :8080", "default 64KiB", "default 50ms", "default 20ms", "ARBITER_API_KEYS"} {
		if !strings.Contains(out.String(), def) {
			t.Errorf("help lacks %q", def)
		}
	}
}

func TestServeUsageErrors(t *testing.T) {
	t.Setenv("ARBITER_API_KEYS", "")
	t.Setenv("ARBITER_RULES", "")
	cases := [][]string{
		{"serve"},                 // no rules
		{"serve", "--rules", "x"}, // no keys, no --no-auth
		{"serve", "--rules", "x", "--no-auth", "--max-body", "lots"},
		{"serve", "--rules", "x", "--no-auth", "--redis", "redis://h:1", "--profiles", "p.jsonl"},
		{"serve", "--rules", "x", "--no-auth", "--log-format", "xml"},
		{"serve", "--rules", "x", "--no-auth", "--key-prefix", "a{b}:"},
		{"serve", "--rules", "x", "--no-auth", "--stream-replicas", "3"}, // the embedded NATS is one server
		{"serve", "--rules", "x", "--no-auth", "--stream-replicas", "-1"},
		{"serve", "--rules", "x", "--no-auth", "--procs", "-1"},
		{"serve", "--rules", "x", "--no-auth", "--redis-pipeline", "both"},
		{"serve", "--bogus"},
	}
	for _, args := range cases {
		var errb bytes.Buffer
		if code := run(context.Background(), args, stdio{Out: io.Discard, Err: &errb}); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, errb.String())
		}
		if !strings.Contains(errb.String(), "Usage: arbiter serve") {
			t.Errorf("%v: no help printed", args)
		}
	}
}

func TestServeBrokenRulesExit1(t *testing.T) {
	dir := t.TempDir()
	var errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--rules", filepath.Join(dir, "missing"), "--no-auth"}, stdio{Out: io.Discard, Err: &errb})
	if code != exitFail || !strings.Contains(errb.String(), "do not load") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestEnvAndFlags(t *testing.T) {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	newServeFlags(fs, &cfg)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ARBITER_ADDR": "0.0.0.0:2", "ARBITER_MAX_BODY": "1MiB", "ARBITER_DECISION_TIMEOUT": "80ms", "ARBITER_NO_AUTH": "true"}
	if err := applyEnv(fs, serveEnv, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:1" || cfg.maxBody != 1<<20 || cfg.decisionTimeout != 80*time.Millisecond || !cfg.noAuth {
		t.Errorf("%+v", cfg)
	}
	env["ARBITER_EVENT_BUFFER"] = "many"
	fs2 := flag.NewFlagSet("serve", flag.ContinueOnError)
	newServeFlags(fs2, &cfg)
	_ = fs2.Parse(nil)
	if err := applyEnv(fs2, serveEnv, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "ARBITER_EVENT_BUFFER") {
		t.Errorf("a bad variable: %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int{"65536": 65536, "64KiB": 65536, "64k": 65536, "1MiB": 1 << 20, "2 MB": 2 << 20, "10b": 10} {
		var b byteSize
		if err := b.Set(in); err != nil || int(b) != want {
			t.Errorf("%q: %d %v", in, b, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "x", "1.5k", "99999999999"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestLoadAPIKeys(t *testing.T) {
	f := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(f, []byte("# ops team\nkey-one\n\n  key-two  \n#key-three\ncheckout-1 decide\nconsole-1\tread, admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := loadAPIKeys(f, " env-1, ,env-2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Key+"="+k.Scopes.String())
	}
	want := "key-one=decide,read,admin|key-two=decide,read,admin|checkout-1=decide|console-1=read,admin|env-1=decide,read,admin|env-2=decide,read,admin"
	if strings.Join(got, "|") != want {
		t.Errorf("%q\nwant %q", strings.Join(got, "|"), want)
	}
	if _, err := loadAPIKeys(f+"-missing", ""); err == nil {
		t.Error("a missing keys file is not an error")
	}
	// An unknown scope is an error at start, with file:line.
	if err := os.WriteFile(f, []byte("key-one\n# c\ncheckout-1 decide,reed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadAPIKeys(f, ""); err == nil || !strings.Contains(err.Error(), f+":3: unknown scope \"reed\"") {
		t.Errorf("unknown scope: %v", err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--rules", "testdata/rulescheck/good", "--api-keys-file", f, "--addr", "127.0.0.1:0"},
		stdio{Out: &out, Err: &errb})
	if code == exitOK || !strings.Contains(errb.String(), ":3: unknown scope \"reed\"") {
		t.Errorf("serve with an unknown scope: exit %d, %s", code, errb.String())
	}
}
