package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

func shutdownScenario() scenario {
	return scenario{
		name: "sigterm",
		goal: "SIGTERM under load from 32 clients on keep-alive connections, with NATS up and with NATS hung (SIGSTOP): " +
			"no request reset on a keep-alive connection (those opened during the drain are counted), /readyz 503 while draining, exit 0 within --shutdown-timeout counted from the signal",
		bound: 2 * time.Minute, shortBound: 50 * time.Second,
		run: runShutdown,
	}
}

func runShutdown(ctx context.Context, e *env, ps *procs, r *result) error {
	if !e.serveHasFlag("--drain-delay") {
		return fmt.Errorf("%w: needs serve --drain-delay", errNotRun)
	}
	rules := filepath.Join(ps.dir, "rules")
	if err := writeRules(rules, alwaysOffer); err != nil {
		return err
	}
	timeout, drain := e.dur(10*time.Second, 4*time.Second), e.dur(2*time.Second, time.Second)
	r.add("settings", "--shutdown-timeout %s --drain-delay %s; 32 workers, closed loop, keep-alive; SIGTERM after %s of load", timeout, drain, e.dur(3*time.Second, 1500*time.Millisecond))
	for _, hung := range []bool{false, true} {
		label := "NATS up"
		if hung {
			label = "NATS hung"
		}
		np, err := ps.startNATS(ctx, "nats-"+map[bool]string{false: "up", true: "hung"}[hung], natsOpts{})
		if err != nil {
			return err
		}
		a, err := e.startArbiter(ctx, ps, "arbiter-"+map[bool]string{false: "up", true: "hung"}[hung], arbiterOpts{rules: rules, nats: natsURL(np, "", ""),
			args: []string{"--shutdown-timeout", timeout.String(), "--drain-delay", drain.String()}})
		if err != nil {
			return err
		}
		st := newStats()
		var mu sync.Mutex
		var sigAt time.Time
		var afterSig, resetKeepAlive, resetFresh int
		var resetInfo []string
		lctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			runLoad(lctx, loadCfg{targets: []string{a.addr}, workers: 32, body: uniqueCustomers("st"), stopOnRefused: true,
				onSample: func(s *sample) {
					st.add(s)
					mu.Lock()
					if errKind(s.err) == "reset" {
						if s.reused {
							resetKeepAlive++
						} else {
							resetFresh++
						}
					}
					if s.err != nil && errKind(s.err) != "refused" && len(resetInfo) < 3 {
						resetInfo = append(resetInfo, fmt.Sprintf("%q sent %s after SIGTERM, failed after %s",
							s.err.Error(), s.start.Sub(sigAt).Round(time.Millisecond), s.end.Sub(s.start).Round(time.Millisecond)))
					}
					if !sigAt.IsZero() && s.start.After(sigAt) && s.status == http.StatusOK {
						afterSig++
					}
					mu.Unlock()
				}})
		}()
		if err := sleep(ctx, e.dur(3*time.Second, 1500*time.Millisecond)); err != nil {
			stop()
			return err
		}
		if hung {
			if err := np.hang(ctx); err != nil {
				np.signal(syscall.SIGCONT)
				stop()
				return err
			}
			// Events pile up behind the hung NATS.
			if err := sleep(ctx, 500*time.Millisecond); err != nil {
				stop()
				return err
			}
		}
		buffered, _ := metric(ctx, a.addr, "arbiter_events_buffered")
		mu.Lock()
		sigAt = time.Now()
		mu.Unlock()
		a.signal(syscall.SIGTERM)
		// While draining, /readyz says 503.
		_ = sleep(ctx, drain/2)
		ready := 0
		if resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + a.addr + "/readyz"); err == nil {
			ready = resp.StatusCode
			resp.Body.Close()
		}
		exited := a.wait(timeout + 5*time.Second)
		exitAfter := time.Since(sigAt)
		stop()
		wg.Wait()
		if hung {
			np.signal(syscall.SIGCONT)
		}
		code := -1
		if exited {
			if err := a.exitErr(); err == nil {
				code = 0
			} else if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
		}
		st.mu.Lock()
		resets := st.errs["reset"]
		other := 0
		for k, n := range st.errs {
			if k != "reset" && k != "refused" {
				other += n
			}
		}
		refused := st.errs["refused"]
		st.mu.Unlock()
		r.add(label+": requests", "%d; answered 200: %d, %d of them sent after SIGTERM; refused after the listener closed: %d", st.sent, st.ok(), afterSig, refused)
		r.key(label+": reset", "%d on keep-alive connections; %d on connections opened during the drain, at its end; other errors: %d (a connection reset in its handshake counts as refused: no request was sent)",
			resetKeepAlive, resetFresh, other)
		r.key(label+": exit", "%s after SIGTERM, exit code %d (bound %s); events buffered at SIGTERM: %.0f", exitAfter.Round(10*time.Millisecond), code, timeout, buffered)
		r.add(label+": /readyz while draining", "%d", ready)
		for _, x := range resetInfo {
			r.note("%s: %s", label, x)
		}
		r.check(afterSig > 0, "%s: no request answered after SIGTERM (%d sent): the drain was not under load", label, st.sent)
		r.check(resetKeepAlive == 0 && other == 0, "%s: %d requests reset on keep-alive connections, %d other errors", label, resetKeepAlive, other)
		if resetFresh > 0 {
			r.note("%s: %d requests sent on connections opened during the drain (clients that ignore /readyz's 503) were reset at the end of the drain, unanswered (the listener closed, or the server stopped, before it had read them)", label, resetFresh)
		}
		_ = resets
		r.check(exited && exitAfter <= timeout+250*time.Millisecond, "%s: exit %s after SIGTERM, beyond --shutdown-timeout %s", label, exitAfter, timeout)
		r.check(code == 0, "%s: exit code %d", label, code)
		r.check(ready == http.StatusServiceUnavailable, "%s: /readyz answered %d while draining, not 503", label, ready)
	}
	return nil
}
