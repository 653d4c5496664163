package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const subjectPrefix = "faults"

func natsScenario() scenario {
	return scenario{
		name: "nats-down",
		goal: "NATS (JetStream, file store) killed with kill -9 for 30 s under a steady load, longer than the stream's duplicate window " +
			"(set to 10 s for the run), then started again: reading the stream back, every decision answered 200 is there: 0 lost; " +
			"none stored twice but the events NATS had stored without their acknowledgement reaching Arbiter when it died (resent after the window): duplicates ≤ arbiter_events_resent_total",
		bound: 4 * time.Minute, shortBound: 45 * time.Second,
		run: runNATSDown,
	}
}

// idSet collects the decision ids answered 200.
type idSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (s *idSet) add(id string) {
	s.mu.Lock()
	s.ids[id] = struct{}{}
	s.mu.Unlock()
}

// streamCount is what the stream holds of the decisions.
type streamCount struct {
	msgs   int
	unique map[string]int
}

// readDecisions reads every decision event of the stream back.
func readDecisions(ctx context.Context, url string) (streamCount, error) {
	sc := streamCount{unique: map[string]int{}}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return sc, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return sc, err
	}
	name, err := js.StreamNameBySubject(ctx, subjectPrefix+".>")
	if err != nil {
		return sc, fmt.Errorf("the stream of %s.>: %w", subjectPrefix, err)
	}
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjectPrefix + ".decision.>"}})
	if err != nil {
		return sc, err
	}
	quiet := time.Now() // since when no message came
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return sc, err
		}
		n := 0
		var pending uint64
		for m := range batch.Messages() {
			n++
			sc.msgs++
			var ev struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err == nil {
				sc.unique[ev.ID]++
			}
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if n == 0 && batch.Error() == nil {
			// Nothing came: done only if the server says nothing is left
			// (a stream whose leader just moved sends nothing for a
			// moment, and stopping then would count its events lost).
			ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
			info, err := cons.Info(ictx)
			cancel()
			if err == nil && info.NumPending == 0 {
				return sc, nil
			}
			if time.Since(quiet) > 30*time.Second {
				left := "an unknown number (" + fmt.Sprint(err) + ")"
				if err == nil {
					left = fmt.Sprint(info.NumPending)
				}
				return sc, fmt.Errorf("the stream stopped sending after %d events with %s still to read", sc.msgs, left)
			}
			continue
		}
		quiet = time.Now()
		if n == 0 || pending == 0 {
			return sc, batch.Error()
		}
	}
	return sc, ctx.Err()
}

// compare counts the decisions answered but not in the stream (lost), the
// events stored more than once, and events of requests whose answer the
// client never saw.
func compare(answered *idSet, sc streamCount) (lost, dup, unanswered int) {
	answered.mu.Lock()
	defer answered.mu.Unlock()
	for id := range answered.ids {
		if sc.unique[id] == 0 {
			lost++
		}
	}
	for id, n := range sc.unique {
		dup += n - 1
		if _, ok := answered.ids[id]; !ok {
			unanswered++
		}
	}
	return lost, dup, unanswered
}

// setDuplicates changes the stream's duplicate window (as an operator
// would with nats stream edit; Arbiter never changes an existing stream).
func setDuplicates(ctx context.Context, url string, d time.Duration) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// Each request has a time limit of its own: in a cluster just set up, a
	// request can go unanswered (no responders yet, a leader being
	// elected) and would otherwise wait for the scenario's bound.
	var lastErr error
	if !until(ctx, 20*time.Second, func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		name, err := js.StreamNameBySubject(rctx, subjectPrefix+".>")
		if err != nil {
			lastErr = err
			return false
		}
		st, err := js.Stream(rctx, name)
		if err != nil {
			lastErr = err
			return false
		}
		cfg := st.CachedInfo().Config
		cfg.Duplicates = d
		_, lastErr = js.UpdateStream(rctx, cfg)
		return lastErr == nil
	}) {
		return fmt.Errorf("setting the stream's duplicate window to %s within 20 s: %w", d, lastErr)
	}
	return nil
}

// waitDrained waits until an arbiter's event buffer is empty.
func waitDrained(ctx context.Context, addr string, d time.Duration) (float64, bool) {
	var buffered float64
	ok := until(ctx, d, func() bool {
		n, err := metric(ctx, addr, "arbiter_events_buffered")
		buffered = n
		return err == nil && n == 0
	})
	return buffered, ok
}

func runNATSDown(ctx context.Context, e *env, ps *procs, r *result) error {
	rules := filepath.Join(ps.dir, "rules")
	if err := writeRules(rules, alwaysOffer); err != nil {
		return err
	}
	np, err := ps.startNATS(ctx, "nats", natsOpts{})
	if err != nil {
		return err
	}
	url := natsURL(np, "", "")
	a, err := e.startArbiter(ctx, ps, "arbiter", arbiterOpts{rules: rules, nats: url, args: []string{"--subject-prefix", subjectPrefix}})
	if err != nil {
		return err
	}
	dupWindow := e.dur(10*time.Second, time.Second)
	if err := setDuplicates(ctx, url, dupWindow); err != nil {
		return err
	}
	rate := 1000.0
	if e.short {
		rate = 400
	}
	up, down := e.dur(5*time.Second, 2*time.Second), e.dur(30*time.Second, 3*time.Second)
	answered := &idSet{ids: map[string]struct{}{}}
	st := newStats()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runLoad(lctx, loadCfg{targets: []string{a.addr}, workers: 16, rate: rate, body: uniqueCustomers("nd"),
			onSample: func(s *sample) {
				st.add(s)
				if s.status == http.StatusOK {
					answered.add(s.ans.DecisionID)
				}
			}})
	}()
	if err := sleep(ctx, up); err != nil {
		return err
	}
	np.kill()
	if err := sleep(ctx, down); err != nil {
		return err
	}
	bufferedAtRestart, _ := metric(ctx, a.addr, "arbiter_events_buffered")
	if err := np.start(); err != nil {
		return err
	}
	if err := waitNATS(ctx, np, url); err != nil {
		return err
	}
	if err := sleep(ctx, up); err != nil {
		return err
	}
	stop()
	wg.Wait()
	buffered, drained := waitDrained(ctx, a.addr, 60*time.Second)
	dropped, _ := metric(ctx, a.addr, "arbiter_events_dropped_total")
	resent, _ := metric(ctx, a.addr, "arbiter_events_resent_total")
	sc, err := readDecisions(ctx, url)
	if err != nil {
		return fmt.Errorf("reading the stream back: %w", err)
	}
	lost, dup, unanswered := compare(answered, sc)
	r.add("load", "%.0f decisions/s from 16 keep-alive workers; NATS killed for %s (duplicate window %s), %s of load before and after", rate, down, dupWindow, up)
	r.add("answered 200", "%d of %d (other: %s)", st.ok(), st.sent, st.failures())
	r.key("events buffered when NATS came back", "%.0f", bufferedAtRestart)
	r.add("stream read back", "%d decision events, %d distinct ids", sc.msgs, len(sc.unique))
	r.key("lost (answered, not in the stream)", "%d", lost)
	r.key("duplicated (stored more than once)", "%d", dup)
	r.key("resent (arbiter_events_resent_total)", "%.0f", resent)
	r.add("in the stream, answer not seen by the client", "%d", unanswered)
	r.add("dropped (arbiter_events_dropped_total)", "%.0f", dropped)
	lat := st.latency()
	r.add("latency", "p50 %s, p99 %s, max %s", ms(lat.P50), ms(lat.P99), ms(lat.Max))
	r.check(drained, "the event buffer did not drain within 60 s (%.0f left)", buffered)
	r.check(st.allOK(), "not every request answered 200 (%d sent): %s", st.sent, st.failures())
	r.check(lost == 0, "%d events lost", lost)
	// Past the duplicate window JetStream no longer knows an id: an event
	// it stored just before it died, whose acknowledgement never reached
	// Arbiter, is stored again when resent. Only a resent event can be,
	// so there are never more duplicates than resends (docs/events.md);
	// usually there are none.
	r.check(float64(dup) <= resent, "%d events duplicated, more than the %.0f resent", dup, resent)
	return nil
}

func natsClusterScenario() scenario {
	return scenario{
		name: "nats-cluster",
		goal: "A 3-node NATS cluster with an R3 stream; the stream's leader killed with kill -9 under a steady load (and started again later), " +
			"then the three nodes and Arbiter frozen together (SIGSTOP, as a host's pause would) for 0.8 s every 2.8 s: " +
			"events lost and duplicated (0 expected), the publisher's longest stall in each phase, and the events it set apart (a leader answering 409 \"in process\")",
		bound: 4 * time.Minute, shortBound: 2 * time.Minute,
		run: runNATSCluster,
	}
}

func runNATSCluster(ctx context.Context, e *env, ps *procs, r *result) error {
	rules := filepath.Join(ps.dir, "rules")
	if err := writeRules(rules, alwaysOffer); err != nil {
		return err
	}
	var routePorts []int
	var routes []string
	for i := 0; i < 3; i++ {
		p, err := ps.freePort(false)
		if err != nil {
			return err
		}
		routePorts = append(routePorts, p)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	nodes := make([]*proc, 3)
	var urls []string
	for i := range nodes {
		p, err := ps.startNATS(ctx, fmt.Sprintf("nats-%d", i+1), natsOpts{cluster: "faults", route: routePorts[i], routes: routes})
		if err != nil {
			return err
		}
		nodes[i] = p
		urls = append(urls, natsURL(p, "", ""))
	}
	for i, p := range nodes {
		if err := waitNATS(ctx, p, urls[i]); err != nil {
			return err
		}
	}
	all := strings.Join(urls, ",")
	args := []string{"--subject-prefix", subjectPrefix}
	how := "serve --stream-replicas 3"
	if e.serveHasFlag("--stream-replicas") {
		args = append(args, "--stream-replicas", "3")
	} else {
		// The binary has no --stream-replicas: the stream is made R3 before
		// Arbiter starts (Arbiter never changes an existing stream).
		how = "created R3 by the suite before Arbiter started (this binary has no serve --stream-replicas)"
		if err := createR3(ctx, all); err != nil {
			return err
		}
	}
	a, err := e.startArbiter(ctx, ps, "arbiter", arbiterOpts{rules: rules, nats: all, args: args})
	if err != nil {
		return err
	}
	leader, replicas, err := streamLeader(ctx, all)
	if err != nil {
		return err
	}
	// A duplicate window of 20 s: an id a frozen leader holds "in process"
	// is taken again once the window has passed it (docs/events.md), within
	// the drain's 60 s. Set once the stream has its leader.
	dupWindow := 20 * time.Second
	if err := setDuplicates(ctx, all, dupWindow); err != nil {
		return err
	}
	r.add("cluster", "3 nats-server nodes, JetStream file store; stream %s with %d replicas (%s)", subjectPrefix, replicas, how)
	r.check(replicas == 3, "the stream has %d replicas, not 3", replicas)
	var victim *proc
	for _, p := range nodes {
		if p.name == leader {
			victim = p
		}
	}
	if victim == nil {
		return fmt.Errorf("the stream's leader %q is none of the nodes", leader)
	}

	rate := 1000.0
	if e.short {
		rate = 400
	}
	phase := e.dur(8*time.Second, 3*time.Second)
	answered := &idSet{ids: map[string]struct{}{}}
	st := newStats()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		runLoad(lctx, loadCfg{targets: []string{a.addr}, workers: 16, rate: rate, body: uniqueCustomers("nc"),
			onSample: func(s *sample) {
				st.add(s)
				if s.status == http.StatusOK {
					answered.add(s.ans.DecisionID)
				}
			}})
	}()
	// The publisher's stalls: the longest time its published count did
	// not move while the load ran, sampled every 50 ms, by the phase it
	// began in.
	const (
		phaseKill = iota
		phaseFreeze
	)
	var inPhase atomic.Int32
	var stall [2]time.Duration
	var maxBuffered, maxParked float64
	go func() {
		defer wg.Done()
		last, lastMove, movePh := -1.0, time.Now(), inPhase.Load()
		for lctx.Err() == nil {
			n, err := metric(lctx, a.addr, "arbiter_events_published_total")
			now := time.Now()
			if err == nil {
				if n != last {
					last, lastMove, movePh = n, now, inPhase.Load()
				} else if now.Sub(lastMove) > stall[movePh] {
					stall[movePh] = now.Sub(lastMove)
				}
			}
			if b, err := metric(lctx, a.addr, "arbiter_events_buffered"); err == nil && b > maxBuffered {
				maxBuffered = b
			}
			if b, err := metric(lctx, a.addr, "arbiter_events_parked"); err == nil && b > maxParked {
				maxParked = b
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-lctx.Done():
			}
		}
	}()
	if err := sleep(ctx, phase); err != nil {
		return err
	}
	victim.kill()
	if err := sleep(ctx, phase); err != nil {
		return err
	}
	if err := victim.start(); err != nil {
		return err
	}
	if err := sleep(ctx, phase); err != nil {
		return err
	}
	// The freezes begin once the publisher has caught up after the kill
	// (at most a tenth of a second's events waiting), so that each phase's
	// stall is its own.
	caughtUp := until(ctx, 60*time.Second, func() bool {
		b, err := metric(ctx, a.addr, "arbiter_events_buffered")
		return err == nil && b <= rate/10
	})
	r.check(caughtUp, "the publisher had not caught up within 60 s of the killed node's restart")
	inPhase.Store(phaseFreeze)
	pauses, err := freezeAll(ctx, append([]*proc{a}, nodes...), e.dur(20*time.Second, 6*time.Second))
	if err != nil {
		return err
	}
	if err := sleep(ctx, phase); err != nil {
		return err
	}
	stop()
	wg.Wait()
	buffered, drained := waitDrained(ctx, a.addr, 60*time.Second)
	parked, _ := metric(ctx, a.addr, "arbiter_events_parked")
	dropped, _ := metric(ctx, a.addr, "arbiter_events_dropped_total")
	var live []string
	for i, p := range nodes {
		if p != victim {
			live = append(live, urls[i])
		}
	}
	// Read back once every replica has what the leader has: the reading
	// consumer may be placed on any of them. (The runs of 2026-12-06 that
	// read 1,236 of 3,602 events back had in fact lost the rest: the
	// publisher acknowledged 1 event in 64 and a cluster's stream had
	// dropped the plain publishes between; docs/events.md.)
	settled := waitReplicasCurrent(ctx, strings.Join(live, ","), 30*time.Second)
	sc, err := readDecisions(ctx, strings.Join(live, ","))
	if err != nil {
		return fmt.Errorf("reading the stream back: %w", err)
	}
	lost, dup, unanswered := compare(answered, sc)
	r.add("load", "%.0f decisions/s from 16 keep-alive workers; the stream's leader (%s) killed after %s, started again %s later, %s more load; "+
		"then the three nodes and Arbiter frozen together %d times (0.8 s every 2.8 s), %s more load; duplicate window %s", rate, leader, phase, phase, phase, pauses, phase, dupWindow)
	r.add("answered 200", "%d of %d (other: %s)", st.ok(), st.sent, st.failures())
	r.key("lost (answered, not in the stream)", "%d", lost)
	r.key("duplicated (stored more than once)", "%d", dup)
	// Arbiter's /metrics freezes with it: a stall while frozen shows only
	// when the publisher had not moved by the first answer after a freeze.
	r.key("publisher's longest stall", "%s around the kill, %s beyond a freeze (events buffered at most %.0f)",
		stall[phaseKill].Round(10*time.Millisecond), stall[phaseFreeze].Round(10*time.Millisecond), maxBuffered)
	r.add("stream read back", "%d decision events, %d distinct ids; %d whose answer the client did not see", sc.msgs, len(sc.unique), unanswered)
	r.add("dropped (arbiter_events_dropped_total)", "%.0f", dropped)
	r.key("set apart (arbiter_events_parked)", "at most %.0f at once; %.0f after the drain", maxParked, parked)
	r.check(drained, "the event buffer did not drain within 60 s (%.0f left)", buffered)
	r.check(settled, "the stream's replicas were not all current within 30 s of the drain")
	r.check(st.allOK(), "not every request answered 200 (%d sent): %s", st.sent, st.failures())
	r.check(lost == 0, "%d events lost", lost)
	r.check(dup == 0, "%d events duplicated", dup)
	return nil
}

// freezeAll stops every process with SIGSTOP for 0.8 s, then lets them go
// on (SIGCONT), every 2.8 s for d, as a host's pause freezes a cluster's
// nodes and its clients together (the leader keeps its leadership; what it
// had in process when it froze is still in process when it wakes). It
// returns how many times; an error when one of them did not stop (a freeze
// that did not take is not measured as one). The processes are let go on
// every path out.
func freezeAll(ctx context.Context, ps []*proc, d time.Duration) (int, error) {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		for _, p := range ps {
			p.signal(syscall.SIGSTOP)
		}
		var err error
		for _, p := range ps {
			if err = p.waitStopped(ctx); err != nil {
				break
			}
		}
		if err == nil {
			err = sleep(ctx, 800*time.Millisecond)
		}
		for _, p := range ps {
			p.signal(syscall.SIGCONT)
		}
		if err == nil {
			err = sleep(ctx, 2*time.Second)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// createR3 creates the suite's stream with 3 replicas, the settings
// Arbiter would give it otherwise (docs/events.md).
func createR3(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: strings.ToUpper(subjectPrefix), Subjects: []string{subjectPrefix + ".>"},
		Storage: jetstream.FileStorage, Replicas: 3, MaxAge: 7 * 24 * time.Hour, Duplicates: 2 * time.Minute})
	return err
}

// waitStream waits up to d until the suite's stream, read on url, has a
// leader and meets ok (nil: any), and returns its info; false when it did
// not within d.
func waitStream(ctx context.Context, url string, d time.Duration, ok func(*jetstream.StreamInfo) bool) (*jetstream.StreamInfo, bool, error) {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return nil, false, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, false, err
	}
	var info *jetstream.StreamInfo
	met := until(ctx, d, func() bool {
		// A time limit per request: one a cluster drops while it elects a
		// leader must not wait for the scenario's bound.
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		name, err := js.StreamNameBySubject(rctx, subjectPrefix+".>")
		if err != nil {
			return false
		}
		st, err := js.Stream(rctx, name)
		if err != nil {
			return false
		}
		i, err := st.Info(rctx)
		if err != nil || i.Cluster == nil || i.Cluster.Leader == "" || ok != nil && !ok(i) {
			return false
		}
		info = i
		return true
	})
	return info, met, nil
}

// waitReplicasCurrent waits up to d until every replica of the suite's
// stream but its leader reports itself current, with no lag; it reports
// whether they did.
func waitReplicasCurrent(ctx context.Context, url string, d time.Duration) bool {
	_, ok, _ := waitStream(ctx, url, d, func(i *jetstream.StreamInfo) bool {
		if len(i.Cluster.Replicas) < i.Config.Replicas-1 {
			return false
		}
		for _, p := range i.Cluster.Replicas {
			if p == nil || !p.Current || p.Offline || p.Lag > 0 {
				return false
			}
		}
		return true
	})
	return ok
}

// streamLeader waits for the stream and names its leader.
func streamLeader(ctx context.Context, url string) (string, int, error) {
	info, ok, err := waitStream(ctx, url, 20*time.Second, nil)
	if err != nil {
		return "", 0, err
	}
	if !ok {
		return "", 0, errors.New("the stream has no leader after 20 s")
	}
	return info.Cluster.Leader, info.Config.Replicas, nil
}
