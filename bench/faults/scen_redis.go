package main

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

func redisScenario() scenario {
	return scenario{
		name: "redis-down",
		goal: "Redis killed (kill -9) and then hung (SIGSTOP) under a steady load: every request answered 200 (degraded), " +
			"no capped offer granted while Redis is away, capped grants again once it is back; p99 while away against the decision's deadline (checked within 150 ms of the run's baseline)",
		bound: 3 * time.Minute, shortBound: 40 * time.Second,
		run: runRedisDown,
	}
}

const bigCapOffer = `  - id: capped
    kind: discount
    title: 5 off
    discount: {amount: 5}
    priority: 50
    caps:
      total: 1000000000
`

// window is a time a dependency was away: from the fault (from) to its
// undoing (to: the restart, SIGCONT), and on until the dependency
// answered again (back).
type window struct{ from, to, back time.Time }

// covers reports whether a request was wholly within the fault, from its
// start to its undoing: its answer was made without the dependency.
func (w window) covers(s *sample) bool {
	return !w.from.IsZero() && s.start.After(w.from) && (w.to.IsZero() || s.end.Before(w.to))
}

// overlaps reports whether any part of a request fell between the fault
// and the dependency's answering again: its latency is one under the
// fault, above all when the fault held it up past its end.
func (w window) overlaps(s *sample) bool {
	return !w.from.IsZero() && s.end.After(w.from) && (w.back.IsZero() || s.start.Before(w.back))
}

func runRedisDown(ctx context.Context, e *env, ps *procs, r *result) error {
	rules := filepath.Join(ps.dir, "rules")
	if err := writeRules(rules, alwaysOffer+bigCapOffer); err != nil {
		return err
	}
	rp, err := ps.startRedis(ctx, "redis", redisOpts{aof: true})
	if err != nil {
		return err
	}
	a, err := e.startArbiter(ctx, ps, "arbiter", arbiterOpts{rules: rules, redis: "redis://" + rp.addr + "/0"})
	if err != nil {
		return err
	}
	rate := 1000.0
	if e.short {
		rate = 400
	}
	up, down := e.dur(5*time.Second, 2*time.Second), e.dur(10*time.Second, 3*time.Second)
	var (
		mu                       sync.Mutex
		killed, hung             window
		grantsKilled, grantsHung int
		ledgerDown               int
		firstAfterKill           time.Time
		firstAfterHang           time.Time
		faultHist                = loadgen.NewHistogram()
		upHist                   = loadgen.NewHistogram()
		st                       = newStats()
	)
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runLoad(lctx, loadCfg{targets: []string{a.addr}, workers: 32, rate: rate, body: uniqueCustomers("rd"),
			onSample: func(s *sample) {
				st.add(s)
				if s.status != http.StatusOK {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				capped := s.ans.has("capped")
				if killed.overlaps(s) || hung.overlaps(s) {
					loadgen.Record(faultHist, s.end.Sub(s.start))
				} else {
					loadgen.Record(upHist, s.end.Sub(s.start))
				}
				if s.ans.degraded("ledger_unavailable") {
					ledgerDown++
				}
				if capped && killed.covers(s) {
					grantsKilled++
				}
				if capped && hung.covers(s) {
					grantsHung++
				}
				if capped && !killed.to.IsZero() && s.start.After(killed.to) && firstAfterKill.IsZero() {
					firstAfterKill = s.end
				}
				if capped && !hung.to.IsZero() && s.start.After(hung.to) && firstAfterHang.IsZero() {
					firstAfterHang = s.end
				}
			}})
	}()
	mark := func(t *time.Time) {
		mu.Lock()
		*t = time.Now()
		mu.Unlock()
	}
	if err := sleep(ctx, up); err != nil {
		return err
	}
	mark(&killed.from)
	rp.kill()
	if err := sleep(ctx, down); err != nil {
		return err
	}
	mark(&killed.to)
	if err := rp.start(); err != nil {
		return err
	}
	if err := waitRedis(ctx, rp, ""); err != nil {
		return err
	}
	mark(&killed.back)
	if err := sleep(ctx, up); err != nil {
		return err
	}
	mark(&hung.from)
	if err := rp.hang(ctx); err != nil {
		rp.signal(syscall.SIGCONT)
		return err
	}
	if err := sleep(ctx, down); err != nil {
		rp.signal(syscall.SIGCONT)
		return err
	}
	mark(&hung.to)
	rp.signal(syscall.SIGCONT)
	mark(&hung.back)
	if err := sleep(ctx, up); err != nil {
		return err
	}
	stop()
	wg.Wait()

	lat := st.latency()
	fl, ul := loadgen.Summarize(faultHist), loadgen.Summarize(upHist)
	r.add("load", "%.0f decisions/s from 32 keep-alive workers, 1 replica; Redis killed %s, then hung %s, %s of load between", rate, down, down, up)
	r.key("answered 200", "%.2f%% of %d (other: %s)", st.okShare(), st.sent, st.failures())
	r.add("latency, whole run", "p50 %s, p99 %s, max %s", ms(lat.P50), ms(lat.P99), ms(lat.Max))
	r.add("latency while Redis was up (the machine's baseline)", "p50 %s, p99 %s, max %s (%d requests)", ms(ul.P50), ms(ul.P99), ms(ul.Max), ul.Count)
	r.key("latency while Redis was away", "p50 %s, p99 %s, max %s (%d requests)", ms(fl.P50), ms(fl.P99), ms(fl.Max), fl.Count)
	r.key("capped grants while Redis was away", "killed: %d, hung: %d", grantsKilled, grantsHung)
	r.add("answers with ledger_unavailable", "%d", ledgerDown)
	after := func(t, from time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Sub(from).Round(time.Millisecond).String()
	}
	r.add("first capped grant after Redis came back", "after the kill: %s; after SIGCONT: %s", after(firstAfterKill, killed.to), after(firstAfterHang, hung.to))
	r.check(st.allOK(), "not every request was answered 200 (%d sent): %s", st.sent, st.failures())
	r.check(grantsKilled == 0 && grantsHung == 0, "capped offers granted while Redis was away")
	r.check(!firstAfterKill.IsZero() && !firstAfterHang.IsZero(), "capped offers not granted again after Redis came back")
	// The decision's deadline is 50 ms: while Redis is away, p99 may
	// grow by that much over the same run's baseline (which carries the
	// machine's own scheduling delays), plus a margin of 100 ms for a
	// loaded machine (the figures above are the measure).
	r.check(fl.P99 <= ul.P99+150_000, "p99 while Redis was away %s, more than 150 ms above the baseline's %s (the decision's deadline is 50 ms)", ms(fl.P99), ms(ul.P99))
	return nil
}
