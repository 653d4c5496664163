package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/examples/profilegen"
)

// demoCart is the cart of the demo's example request.
const demoCart = `"cart":{"currency":"USD","items":[{"sku":"SHOE-1","category":"shoes","price":60.25,"quantity":2},{"sku":"SOCK-3","category":"accessories","price":4.5,"quantity":1}]}`

// cmdDemo runs the example checkout rules with generated profiles, the
// embedded Redis and NATS, and the API on 127.0.0.1:8080 without auth.
func cmdDemo(ctx context.Context, args []string, s stdio) int {
	var cfg serveConfig
	c := newSubcommand("arbiter demo", "", s)
	fset := c.fs
	newServeFlags(fset, &cfg) // the same tuning flags as serve
	count := fset.Int("count", 10000, "generated profiles to load")
	seed := fset.Int64("seed", 1, "seed of the generated profiles")
	c.help = func(w io.Writer) {
		fmt.Fprintln(w, "Usage: arbiter demo [--addr 127.0.0.1:8080] [--count N] [--seed N]")
		fmt.Fprintln(w, "\nServes the example checkout rules (./examples/checkout when present, watched; else the")
		fmt.Fprintln(w, "copy built into the binary) with generated profiles in an embedded Redis, events on an")
		fmt.Fprintln(w, "embedded NATS, and the API without auth. Ctrl-C stops it.")
		fmt.Fprintln(w, "\nFlags: --addr (default 127.0.0.1:8080), --count (default 10000), --seed, --ui (default true: the console at /ui/),")
		fmt.Fprintln(w, "--log-format, --log-level, and serve's tuning flags (arbiter serve --help). --rules, --redis, --nats, --profiles")
		fmt.Fprintln(w, "and --api-keys-file are serve's: the demo refuses them.")
	}
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return c.usageErr(fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	// serve's flags that the demo would override: refused, not ignored.
	for _, name := range []string{"rules", "redis", "nats", "profiles", "api-keys-file"} {
		if given(fset, name) {
			return c.usageErr(fmt.Sprintf("--%s: the demo serves the example rules and generated profiles, with an embedded Redis and NATS and no auth; "+
				"to serve your own, run arbiter serve --rules DIR [--redis URL] [--nats URL] [--profiles FILE.jsonl] (--api-keys-file FILE | --no-auth)", name))
		}
	}
	if *count < 0 {
		return c.usageErr(fmt.Sprintf("--count %d: write a number of profiles to generate, 0 or more (default 10000)", *count))
	}
	addrGiven := false
	fset.Visit(func(f *flag.Flag) { addrGiven = addrGiven || f.Name == "addr" })
	if !addrGiven {
		cfg.addr = defaultDemoAddr
	}
	if !given(fset, "drain-delay") {
		cfg.drainDelay = 0 // no load balancer in front of the demo: Ctrl-C stops at once
	}
	if err := cfg.checkShutdown(true); err != nil {
		return c.usageErr(err.Error())
	}
	// The demo is for one machine: no auth, so loopback only.
	if host, _, err := splitHost(cfg.addr); err != nil || !isLoopback(host) {
		return c.usageErr(fmt.Sprintf("--addr %s: the demo runs without auth and binds to 127.0.0.1 only (e.g. 127.0.0.1:9090)", cfg.addr))
	}
	cfg.noAuth, cfg.redisURL, cfg.natsURL, cfg.profilesFile = true, "", "", ""
	logger, err := newLogger(s.Err, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return c.usageErr(err.Error())
	}
	s.useLogger(logger)

	src := rulesSource{watch: true}
	if st, err := os.Stat(filepath.Join("examples", "checkout", "profile.yaml")); err == nil && !st.IsDir() {
		src.dir = filepath.Join("examples", "checkout")
	} else {
		sub, err := fs.Sub(examples.Checkout, "checkout")
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter demo: %v\n", err)
			return exitFail
		}
		src.fsys, src.name = sub, "examples/checkout (built in)"
	}
	generated := profilegen.Generate(*seed, *count, time.Now())
	preload := func() (io.ReadCloser, string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, p := range generated {
			if err := enc.Encode(p); err != nil {
				return nil, "", err
			}
		}
		return io.NopCloser(&b), "the generated profiles", nil
	}
	show := func(info runInfo) { printDemoBanner(s.Out, info, generated) }
	return runServer(ctx, cfg, nil, src, preload, show, s, logger)
}

func splitHost(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", fmt.Errorf("no port in %q", addr)
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:], nil
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// printDemoBanner says what runs, shows three customers of different
// segments (of those loaded) and a curl command that works when pasted.
func printDemoBanner(w io.Writer, info runInfo, loaded []map[string]any) {
	base := "http://" + info.addr
	fmt.Fprintf(w, "\nArbiter demo\n")
	fmt.Fprintf(w, "  API      %s (no auth; loopback only)\n", base)
	if info.ui {
		fmt.Fprintf(w, "  console  %s/ui/ (open it in a browser)\n", base)
	}
	rs := info.rules.Ruleset
	fmt.Fprintf(w, "  rules    %s, version %s: %s, %s, %s\n", info.rules.Source, rs.Version,
		count(len(rs.Segments), "segment"), count(len(rs.Offers), "offer"), count(len(rs.Experiments), "experiment"))
	fmt.Fprintf(w, "  profiles %d generated customers (c-000001 ...) in %s\n", len(loaded), info.redis)
	fmt.Fprintf(w, "  events   %s (arbiter events tail --nats %s)\n", info.nats, info.nats)
	picks := pickCustomers(info, loaded)
	fmt.Fprintf(w, "\nCustomers to try:\n")
	for _, p := range picks {
		seg := strings.Join(p.segments, ", ")
		if seg == "" {
			seg = "(segments not computed)"
		}
		fmt.Fprintf(w, "  %-10s %s\n", p.id, seg)
	}
	id := "c-000001"
	if len(picks) > 0 {
		id = picks[0].id
	}
	fmt.Fprintf(w, "\nTry:\n  curl -s -X POST %s/v1/decide -H 'Content-Type: application/json' \\\n    -d '{\"customer_id\":\"%s\",\"placement\":\"checkout\",%s,\"explain\":false}'\n", base, id, demoCart)
	fmt.Fprintf(w, "\n  curl -s %s/v1/rules\n\nCtrl-C stops the demo.\n\n", base)
}

type pick struct {
	id       string
	segments []string
}

// pickCustomers finds three customers whose segments differ, by dry-run
// decisions on the first loaded profiles (the engine looks them up in the
// embedded Redis). Without a working engine or profile store it falls back
// to the first three ids.
func pickCustomers(info runInfo, loaded []map[string]any) []pick {
	var out []pick
	seen := map[string]bool{}
	if info.engine != nil {
		rs := info.rules.Ruleset
		for i, m := range loaded {
			if i >= 500 || len(out) == 3 {
				break
			}
			id, _ := m["id"].(string)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			d, err := info.engine.Decide(ctx, rs, nil, &engine.Request{DecisionID: "dcs_demo", CustomerID: id,
				Placement: "checkout", DryRun: true, Now: time.Now()})
			if err == nil && d != nil && len(d.Segments) > 0 && !slices.Contains(d.Degraded, engine.DegradedProfile) {
				key := strings.Join(d.Segments, ",")
				if !seen[key] && (len(out) == 0 || !overlaps(out, d.Segments)) {
					seen[key] = true
					out = append(out, pick{id: id, segments: d.Segments})
				}
			}
			cancel()
		}
	}
	for i := 0; len(out) < 3 && i < len(loaded); i++ {
		id, _ := loaded[i]["id"].(string)
		dup := false
		for _, p := range out {
			dup = dup || p.id == id
		}
		if !dup {
			out = append(out, pick{id: id})
		}
	}
	return out
}

// overlaps reports whether the first segment of segs is already the first
// of a pick: customers are chosen to lead with different segments.
func overlaps(picks []pick, segs []string) bool {
	for _, p := range picks {
		if len(p.segments) > 0 && p.segments[0] == segs[0] {
			return true
		}
	}
	return false
}
