package main

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

func redisScenario() scenario {
	return scenario{
		name: "redis-down",
		goal: "Redis killed (kill -9) and then hung (SIGSTOP) under a steady load: every request answered 200 (degraded), " +
			"each answer while Redis is away marked ledger_unavailable and no capped offer granted, capped grants again once it is back; p99 while away against the decision's deadline (checked within 150 ms of the run's baseline)",
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

// redisDownTally is what redis-down makes of its answers.
type redisDownTally struct {
	mu                       sync.Mutex
	killed, hung             window
	grantsKilled, grantsHung int
	// unmarked: answers made wholly while Redis was away that do not say
	// ledger_unavailable (every decision asks the ledger for the capped
	// offer, so each of them must).
	unmarked       int
	ledgerDown     int
	firstAfterKill time.Time
	firstAfterHang time.Time
	faultHist      *hdrhistogram.Histogram
	upHist         *hdrhistogram.Histogram
}

func newRedisDownTally() *redisDownTally {
	return &redisDownTally{faultHist: loadgen.NewHistogram(), upHist: loadgen.NewHistogram()}
}

func (t *redisDownTally) add(s *sample) {
	if s.err != nil || s.status != http.StatusOK {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	capped := s.ans.has("capped")
	if t.killed.overlaps(s) || t.hung.overlaps(s) {
		loadgen.Record(t.faultHist, s.end.Sub(s.start))
	} else {
		loadgen.Record(t.upHist, s.end.Sub(s.start))
	}
	marked := s.ans.degraded("ledger_unavailable")
	if marked {
		t.ledgerDown++
	}
	away := t.killed.covers(s) || t.hung.covers(s)
	if away && !marked {
		t.unmarked++
	}
	if capped && t.killed.covers(s) {
		t.grantsKilled++
	}
	if capped && t.hung.covers(s) {
		t.grantsHung++
	}
	if capped && !t.killed.to.IsZero() && s.start.After(t.killed.to) && t.firstAfterKill.IsZero() {
		t.firstAfterKill = s.end
	}
	if capped && !t.hung.to.IsZero() && s.start.After(t.hung.to) && t.firstAfterHang.IsZero() {
		t.firstAfterHang = s.end
	}
}

// check records redis-down's conditions on its answers (the tally's
// lock held): answers made while Redis was away, in both faults; none of
// them with a capped grant, each marked ledger_unavailable; capped grants
// again after each fault; p99 under the fault within 150 ms of the
// baseline's.
func (t *redisDownTally) check(r *result) {
	fl, ul := loadgen.Summarize(t.faultHist), loadgen.Summarize(t.upHist)
	r.check(fl.Count > 0 && ul.Count > 0, "answers while Redis was away %d, while it was up %d: the faults were not measured", fl.Count, ul.Count)
	r.check(t.grantsKilled == 0 && t.grantsHung == 0, "capped offers granted while Redis was away (killed: %d, hung: %d)", t.grantsKilled, t.grantsHung)
	r.check(t.unmarked == 0, "%d answers made while Redis was away not marked ledger_unavailable", t.unmarked)
	r.check(!t.firstAfterKill.IsZero() && !t.firstAfterHang.IsZero(), "capped offers not granted again after Redis came back")
	// The decision's deadline is 50 ms: while Redis is away, p99 may
	// grow by that much over the same run's baseline (which carries the
	// machine's own scheduling delays), plus a margin of 100 ms for a
	// loaded machine (the figures above are the measure).
	r.check(fl.P99 <= ul.P99+150_000, "p99 while Redis was away %s, more than 150 ms above the baseline's %s (the decision's deadline is 50 ms)", ms(fl.P99), ms(ul.P99))
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
	tl := newRedisDownTally()
	st := newStats()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runLoad(lctx, loadCfg{targets: []string{a.addr}, workers: 32, rate: rate, body: uniqueCustomers("rd"),
			onSample: func(s *sample) {
				st.add(s)
				tl.add(s)
			}})
	}()
	mu, killed, hung := &tl.mu, &tl.killed, &tl.hung
	mark := func(t *time.Time) {
		mu.Lock()
		*t = time.Now()
		mu.Unlock()
	}
	if err := sleep(ctx, up); err != nil {
		return err
	}
	// The window opens once the fault has taken effect: a request sent
	// before could still have been answered by Redis.
	rp.kill()
	mark(&killed.from)
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
	if err := rp.hang(ctx); err != nil {
		rp.signal(syscall.SIGCONT)
		return err
	}
	mark(&hung.from)
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
	tl.mu.Lock()
	defer tl.mu.Unlock()
	fl, ul := loadgen.Summarize(tl.faultHist), loadgen.Summarize(tl.upHist)
	r.add("load", "%.0f decisions/s from 32 keep-alive workers, 1 replica; Redis killed %s, then hung %s, %s of load between", rate, down, down, up)
	r.key("answered 200", "%.2f%% of %d (other: %s)", st.okShare(), st.sent, st.failures())
	r.add("latency, whole run", "p50 %s, p99 %s, max %s", ms(lat.P50), ms(lat.P99), ms(lat.Max))
	r.add("latency while Redis was up (the machine's baseline)", "p50 %s, p99 %s, max %s (%d requests)", ms(ul.P50), ms(ul.P99), ms(ul.Max), ul.Count)
	r.key("latency while Redis was away", "p50 %s, p99 %s, max %s (%d requests)", ms(fl.P50), ms(fl.P99), ms(fl.Max), fl.Count)
	r.key("capped grants while Redis was away", "killed: %d, hung: %d", tl.grantsKilled, tl.grantsHung)
	r.add("answers with ledger_unavailable", "%d; made while Redis was away without it: %d", tl.ledgerDown, tl.unmarked)
	after := func(t, from time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Sub(from).Round(time.Millisecond).String()
	}
	r.add("first capped grant after Redis came back", "after the kill: %s; after SIGCONT: %s", after(tl.firstAfterKill, tl.killed.to), after(tl.firstAfterHang, tl.hung.to))
	r.check(st.allOK(), "not every request was answered 200 (%d sent): %s", st.sent, st.failures())
	tl.check(r)
	return nil
}
