package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func runLearningReset(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"learning", "reset"}, args...), stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestCmdLearningReset(t *testing.T) {
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	runIt := runLearningReset
	if code, _, e := runIt(); code != exitUsage || !strings.Contains(e, "--redis URL is required") {
		t.Errorf("no redis: %d %q", code, e)
	}
	if code, _, e := runIt("--redis", url, "a b"); code != exitUsage || !strings.Contains(e, `"a b" is not an offer id`) {
		t.Errorf("bad id: %d %q", code, e)
	}
	if code, _, e := runIt("--redis", url, "--rules", "../../examples/checkout", "stay_with_uss"); code != exitFail ||
		!strings.Contains(e, "stay_with_uss is not an offer of the rules") || !strings.Contains(e, "did you mean `stay_with_us`?") {
		t.Errorf("unknown offer: %d %q", code, e)
	}
	if code, o, _ := runIt("--help"); code != exitOK || !strings.Contains(o, "Usage: arbiter learning reset") {
		t.Errorf("help: %d", code)
	}
	// The ledger deletes the offer's statistics (WAVE2: the hash
	// <prefix>learn:{OFFER}, where only the time of the reset is left)
	// and nothing else, and says what it deleted.
	mr.HSet("arbiter:learn:{stay_with_us}", "all|t|20785", "10", "all|s|20785", "3", "vip|t|20786", "5")
	mr.HSet("arbiter:learn:{vip_discount}", "all|t|20785", "10")
	code, o, e := runIt("--redis", url, "--rules", "../../examples/checkout", "stay_with_us")
	if code != exitOK || !onlyReset(mr, "arbiter:learn:{stay_with_us}") || onlyReset(mr, "arbiter:learn:{vip_discount}") ||
		!strings.Contains(o, "deleted the learning statistics of 1 offer") || !strings.Contains(o, "stay_with_us: 15 trials, 3 successes") {
		t.Errorf("reset stay_with_us: exit %d %q, keys %v, out %q", code, e, mr.Keys(), o)
	}
}

// onlyReset reports whether the learning hash key holds no count, only
// the time of its reset.
func onlyReset(mr *miniredis.Miniredis, key string) bool {
	fields, err := mr.HKeys(key)
	return err == nil && len(fields) == 1 && fields[0] == "reset"
}

// A reset that deletes nothing fails (exit 1) and says why and what to
// check, instead of reporting success: an offer id with no statistics (not
// in the rules, or mistyped), a --prefix with nothing under it. Nothing is
// deleted then, not even the named offers that have statistics.
func TestCmdLearningResetNothingFound(t *testing.T) {
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	mr.HSet("arbiter:learn:{stay_with_us}", "all|t|20785", "10")
	mr.HSet("arbiter:learn:{vip_discount}", "all|t|20785", "4", "all|s|20785", "1")
	cases := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"an offer id with no statistics", []string{"no_such_offer"},
			[]string{"no learning statistics are stored for no_such_offer: nothing was deleted", `--prefix "arbiter:"`, "the offer ids"}},
		{"one of the offers has none", []string{"stay_with_us", "no_such_offer"},
			[]string{"no learning statistics are stored for no_such_offer: nothing was deleted"}},
		{"a prefix with nothing under it", []string{"--prefix", "other:"},
			[]string{"no learning statistics are stored for any offer: nothing was deleted", `--prefix "other:"`, "--key-prefix"}},
		{"a prefix with nothing under it, an offer named", []string{"--prefix", "other:", "stay_with_us"},
			[]string{"no learning statistics are stored for stay_with_us: nothing was deleted"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := runLearningReset(append([]string{"--redis", url}, c.args...)...)
			if code != exitFail {
				t.Errorf("exit %d, want %d: a reset that deleted nothing must fail\nout %q\nerr %q", code, exitFail, o, e)
			}
			for _, w := range c.want {
				if !strings.Contains(e, w) {
					t.Errorf("stderr does not say %q:\n%s", w, e)
				}
			}
			if !mr.Exists("arbiter:learn:{stay_with_us}") || !mr.Exists("arbiter:learn:{vip_discount}") {
				t.Errorf("a failed reset deleted statistics: keys %v", mr.Keys())
			}
		})
	}
	// every offer: both deleted, both counted
	code, o, e := runLearningReset("--redis", url)
	if code != exitOK || !onlyReset(mr, "arbiter:learn:{stay_with_us}") || !onlyReset(mr, "arbiter:learn:{vip_discount}") ||
		!strings.Contains(o, "deleted the learning statistics of 2 offers") ||
		!strings.Contains(o, "vip_discount: 4 trials, 1 success\n") {
		t.Errorf("reset of every offer: exit %d %q, keys %v, out %q", code, e, mr.Keys(), o)
	}
}

// A server with the embedded Redis counts learning in its own process,
// which no command reaches: `learning reset` on its Redis says so and
// what to do, and fails, instead of reporting a reset that changed
// nothing.
func TestCmdLearningResetEmbedded(t *testing.T) {
	var cfg serveConfig
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	newServeFlags(fset, &cfg)
	if err := fset.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.addr, cfg.noAuth = "127.0.0.1:0", true
	rulesDir := filepath.Join(t.TempDir(), "rules")
	copyDir(t, "testdata/e2e/rules", rulesDir)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	started := make(chan runInfo, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runServer(ctx, cfg, nil, rulesSource{dir: rulesDir}, nil, func(info runInfo) { started <- info },
			stdio{In: strings.NewReader(""), Out: io.Discard, Err: logs}, logger)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var info runInfo
	select {
	case info = <-started:
	case code := <-done:
		t.Fatalf("the server stopped with exit code %d:\n%s", code, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start in 60s:\n%s", logs.String())
	}
	url, ok := strings.CutPrefix(info.redis, "embedded ")
	if !ok {
		t.Fatalf("the server's Redis is %q, not the embedded one", info.redis)
	}
	for _, args := range [][]string{nil, {"vip_10"}} {
		code, o, e := runLearningReset(append([]string{"--redis", url}, args...)...)
		if code != exitFail || o != "" {
			t.Errorf("%v: exit %d, out %q: a reset that cannot reach the server's statistics must fail", args, code, o)
		}
		for _, w := range []string{"embedded Redis of the arbiter serve", "in its own process", "restart", "nothing was deleted", info.addr} {
			if !strings.Contains(e, w) {
				t.Errorf("%v: stderr does not say %q:\n%s", args, w, e)
			}
		}
	}
}
