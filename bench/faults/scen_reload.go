package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

func reloadScenario() scenario {
	return scenario{
		name: "reload-storm",
		goal: "Rule files rewritten under load, several times a second, in place (truncate, then write) with good rules and with " +
			"empty, blank, comment-only, truncated (at a line and mid-line), broken YAML, a bad expression, an unknown key and a deleted file: " +
			"no decision without actions, and the version served is always one of the good ones",
		bound: 2 * time.Minute, shortBound: 40 * time.Second,
		run: runReloadStorm,
	}
}

// stormOffers are four uncapped actions, titled after the variant.
func stormOffers(variant string) string {
	var b strings.Builder
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&b, "  - id: action_%d\n    kind: action\n    title: %s %d\n    priority: %d\n", i, variant, i, 10*i)
	}
	return offersFile(b.String())
}

// badRuleFiles are the contents that must never be served, by name
// (an empty content with name "deleted" removes the file).
func badRuleFiles() []struct{ name, text string } {
	good := stormOffers("A")
	lines := strings.SplitAfter(good, "\n")
	return []struct{ name, text string }{
		{"empty", ""},
		{"blank", "\n   \n\t\n"},
		{"comments only", "# offers to come\n# (nothing here yet)\n"},
		{"truncated at a line (1 of 4 offers left)", strings.Join(lines[:6], "")},
		{"truncated mid-line", good[:len(good)/2+3]},
		{"broken YAML", "currency: USD\noffers: [\n  - id: action_1\n"},
		{"bad expression", strings.Replace(good, "    priority: 10\n", "    priority: 10\n    when: cart.total >\n", 1)},
		{"unknown key", strings.Replace(good, "    priority: 10\n", "    priorty: 10\n", 1)},
		{"deleted", ""},
	}
}

func runReloadStorm(ctx context.Context, e *env, ps *procs, r *result) error {
	if !e.serveHasFlag("--allow-shrink") {
		return fmt.Errorf("%w: needs the guard against empty and shrunk rule files (serve --allow-shrink)", errNotRun)
	}
	rules := filepath.Join(ps.dir, "rules")
	if err := writeRules(rules, ""); err != nil {
		return err
	}
	file := filepath.Join(rules, "offers", "offers.yaml")
	write := func(text string) error { return os.WriteFile(file, []byte(text), 0o644) }
	if err := write(stormOffers("A")); err != nil {
		return err
	}
	a, err := e.startArbiter(ctx, ps, "arbiter", arbiterOpts{rules: rules})
	if err != nil {
		return err
	}
	version := func() string {
		var rs struct{ Version string }
		if err := getJSON(ctx, a.addr, "/v1/rules", &rs); err != nil {
			return ""
		}
		return rs.Version
	}
	vA := version()
	if vA == "" {
		return fmt.Errorf("GET /v1/rules named no version after the start")
	}
	if err := write(stormOffers("B")); err != nil {
		return err
	}
	var vB string
	if !until(ctx, 10*time.Second, func() bool { vB = version(); return vB != "" && vB != vA }) {
		return fmt.Errorf("rules B not loaded within 10 s")
	}
	good := map[string]bool{vA: true, vB: true}
	// The reloads counted so far (A, then B), to tell the storm's own.
	reloads := func() (ok, refused float64) {
		ok, _ = metric(ctx, a.addr, "arbiter_rules_reloads_total", `result="ok"`)
		for _, res := range []string{`result="error"`, `result="refused"`} {
			n, _ := metric(ctx, a.addr, "arbiter_rules_reloads_total", res)
			refused += n
		}
		return ok, refused
	}
	okBefore, refusedBefore := reloads()

	st := newStats()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runLoad(lctx, loadCfg{targets: []string{a.addr}, workers: 16, body: uniqueCustomers("rs"), onSample: st.add})
	}()
	d := e.dur(30*time.Second, 6*time.Second)
	every := 250 * time.Millisecond
	bad := badRuleFiles()
	writes, served := 0, map[string]int{}
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		var err error
		if i%2 == 0 {
			err = write(stormOffers([]string{"A", "B"}[(i/2)%2]))
		} else {
			b := bad[(i/2)%len(bad)]
			if b.name == "deleted" {
				err = os.Remove(file)
			} else {
				err = write(b.text)
			}
		}
		if err != nil {
			return err
		}
		writes++
		// Sometimes quickly, sometimes after the reload's quiet period.
		wait := every
		if i%3 == 0 {
			wait = every / 5
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		served[version()]++
	}
	// End on good rules: they are served.
	if err := write(stormOffers("A")); err != nil {
		return err
	}
	final := ""
	until(ctx, 10*time.Second, func() bool { final = version(); return final == vA })
	stop()
	wg.Wait()

	var badVersions []string
	st.mu.Lock()
	for v, n := range st.versions {
		if !good[v] {
			badVersions = append(badVersions, fmt.Sprintf("%s (%d answers)", v, n))
		}
	}
	noActions := st.noActions
	versions := len(st.versions)
	st.mu.Unlock()
	for v := range served {
		if !good[v] {
			badVersions = append(badVersions, fmt.Sprintf("%s (GET /v1/rules)", v))
		}
	}
	sort.Strings(badVersions)
	okR, refused := reloads()
	okR, refused = okR-okBefore, refused-refusedBefore
	var names []string
	for _, b := range bad {
		names = append(names, b.name)
	}
	r.add("load", "16 workers, closed loop, 1 replica; %d rewrites of offers.yaml in %s (every %s or %s), good rules every other write", writes, d, every, every/5)
	r.add("bad contents", "%s", strings.Join(names, "; "))
	r.add("answered 200", "%d of %d (other: %s)", st.ok(), st.sent, st.failures())
	r.key("decisions without actions", "%d", noActions)
	r.key("versions served", "%d, all good: %v (A %s, B %s); bad: %d", versions, len(badVersions) == 0, vA, vB, len(badVersions))
	r.add("reloads", "ok %.0f, refused or failed %.0f during the storm (arbiter_rules_reloads_total)", okR, refused)
	r.add("after the storm", "good rules written last are served: %v", final == vA)
	r.check(noActions == 0, "%d decisions without actions", noActions)
	r.check(len(badVersions) == 0, "versions served that are not good rules: %s", strings.Join(badVersions, ", "))
	r.check(st.allOK(), "not every request answered 200 (%d sent): %s", st.sent, st.failures())
	// The storm reached the reloader: good rules swapped in, bad ones
	// refused (a watcher that stopped reloading would serve good rules
	// only, and show nothing).
	r.check(okR > 0 && refused > 0, "the rewrites did not reach the reloader: %.0f reloads ok, %.0f refused or failed", okR, refused)
	r.check(final == vA, "the good rules written last were not served within 10 s (%q)", final)
	return nil
}
