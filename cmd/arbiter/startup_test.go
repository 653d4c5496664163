package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildArbiter builds the binary into a temporary directory of t.
func buildArbiter(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "arbiter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runToExit runs the binary with args and returns its exit code and
// output; it fails the test when the process is still running after limit.
func runToExit(t *testing.T, bin string, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	var out syncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ARBITER_API_KEYS=", "ARBITER_REDIS_URL=", "ARBITER_NATS_URL=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("arbiter %s still running after %v:\n%s", strings.Join(args, " "), limit, out.String())
		return 0, ""
	}
}

// TestServePortInUse: a port already taken stops serve at once with exit
// 1, naming the address, whether Redis and NATS are reachable or not.
// Before, serve connected to both first and, with NATS unreachable, waited
// for ever to flush its start-up event before saying anything (SIGTERM
// did not stop it either).
func TestServePortInUse(t *testing.T) {
	bin := buildArbiter(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	// Nothing listens on these: connections are refused.
	downNATS := "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	downRedis := "redis://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/0"
	cases := []struct {
		name  string
		extra []string
	}{
		{"embedded Redis and NATS", nil},
		{"Redis and NATS down", []string{"--redis", downRedis, "--nats", downNATS}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--rules", "testdata/e2e/rules", "--no-auth", "--addr", addr}, c.extra...)
			start := time.Now()
			code, out := runToExit(t, bin, 20*time.Second, args...)
			took := time.Since(start)
			if code != exitFail {
				t.Errorf("exit code %d, want %d:\n%s", code, exitFail, out)
			}
			if !strings.Contains(out, "listening on "+addr) || !strings.Contains(out, "address already in use") {
				t.Errorf("the output does not say that %s is in use:\n%s", addr, out)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to say the port is in use", took)
			}
		})
	}
}

// cancelOnRead is a profiles file whose first read cancels the server's
// context: a SIGTERM or Ctrl-C while the profiles load.
type cancelOnRead struct{ cancel context.CancelFunc }

func (r cancelOnRead) Read(p []byte) (int, error) {
	r.cancel()
	return copy(p, `{"id":"c-1"}`+"\n"), nil
}

func (cancelOnRead) Close() error { return nil }

// TestStopDuringTheStart: a SIGTERM or Ctrl-C while serve (or the demo)
// starts stops it cleanly with exit 0. Before, the demo stopped by Ctrl-C
// while it loaded its profiles said "arbiter serve: loading profiles: the
// generated profiles: interrupted at line 1: context canceled" and exited
// 1.
func TestStopDuringTheStart(t *testing.T) {
	var cfg serveConfig
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	newServeFlags(fset, &cfg)
	if err := fset.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.addr, cfg.noAuth = "127.0.0.1:0", true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	preload := func() (io.ReadCloser, string, error) { return cancelOnRead{cancel}, "the profiles", nil }
	var errb syncBuffer
	logger := slog.New(slog.NewTextHandler(&errb, nil))
	code := runServer(ctx, cfg, nil, rulesSource{dir: "testdata/e2e/rules"}, preload, nil,
		stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errb}, logger)
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	if strings.Contains(errb.String(), "context canceled") || !strings.Contains(errb.String(), "stopped during the start") {
		t.Errorf("the output does not say the start was stopped:\n%s", errb.String())
	}
}
