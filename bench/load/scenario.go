package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/bench/loadgen"
	"github.com/arbiterhq/arbiter/examples/profilegen"
)

// scenarioEnv is one scenario being run.
type scenarioEnv struct {
	cfg   config
	def   scenarioDef
	name  string
	bin   string
	self  string
	root  string
	tmp   string
	runID string
	log   *slog.Logger

	arbiters []*proc
	ceilings []*proc
	redis    *redisStats
}

func (e *scenarioEnv) run(ctx context.Context) (s loadgen.Scenario, err error) {
	c, def := e.cfg, e.def
	s = loadgen.Scenario{Name: e.name, Title: def.title, Replicas: def.replicas, Conns: c.conns,
		Redis: "embedded", NATS: "embedded", Ruleset: relTo(e.root, c.rules), RedisCallsPerDecision: -1, RedisCPUUS: -1}
	if err := os.MkdirAll(e.tmp, 0o755); err != nil {
		return s, err
	}
	defer e.stopAll()

	// The rules.
	rulesDir := c.rules
	if def.capped || def.noCaps {
		rulesDir = filepath.Join(e.tmp, "rules")
		share := c.capShare
		if def.noCaps {
			share = 0
		}
		ids, err := loadgen.DeriveCapped(c.rules, rulesDir, loadgen.CapsOptions{
			Share: share, Total: 1_000_000_000, Budget: 1_000_000_000, StripExisting: def.noCaps, Hold: c.hold})
		if err != nil {
			return s, err
		}
		s.CappedOffer = ids
		s.Ruleset = "derived from " + relTo(e.root, c.rules)
		if def.noCaps {
			s.Notes = append(s.Notes, "every caps block removed from the rules")
		} else {
			s.Notes = append(s.Notes, fmt.Sprintf("total cap and budget of 1e9 added to %s (the rules' own caps kept)", strings.Join(ids, ", ")))
			if c.hold != "" && !def.noCaps {
				s.Notes = append(s.Notes, "each added cap holds its grants for "+c.hold+" (caps.hold)")
			}
		}
	}

	// The profiles.
	n := c.profiles
	if def.sequential {
		n = c.profilesReal
	}
	s.Profiles = n
	profilesFile := filepath.Join(e.tmp, "profiles.jsonl")
	ids, err := writeProfiles(profilesFile, c.seed, n)
	if err != nil {
		return s, err
	}

	// The servers.
	args := []string{"serve", "--rules", rulesDir, "--no-auth", "--log-level", "warn", "--profile-cache-ttl", def.cacheTTL}
	var keyPrefix, subjectPrefix string
	if def.realDeps {
		keyPrefix = "bench:" + e.runID + ":" + e.name + ":"
		subjectPrefix = "bench_" + e.runID + "_" + e.name
		s.Redis, s.NATS = c.redisURL+" (prefix "+keyPrefix+")", c.natsURL+" (subjects "+subjectPrefix+".>)"
		e.log.Info("importing profiles into Redis", "count", n, "prefix", keyPrefix)
		if err := runCmd(ctx, filepath.Join(e.tmp, "import.log"), e.bin, "profiles", "import", "--redis", c.redisURL,
			"--rules", rulesDir, "--prefix", keyPrefix, profilesFile); err != nil {
			return s, fmt.Errorf("importing profiles: %w", err)
		}
		defer e.cleanupReal(c.redisURL, keyPrefix, c.natsURL, subjectPrefix)
		args = append(args, "--redis", c.redisURL, "--key-prefix", keyPrefix, "--nats", c.natsURL, "--subject-prefix", subjectPrefix)
		if e.redis, err = newRedisStats(c.redisURL); err != nil {
			return s, err
		}
	} else {
		args = append(args, "--profiles", profilesFile)
	}
	args = append(args, strings.Fields(c.serveArgs)...)
	for i := 0; i < def.replicas; i++ {
		logPath := filepath.Join(c.out, fmt.Sprintf("%s-arbiter-%d.log", e.name, i+1))
		p, err := startArbiter(ctx, e.bin, args, logPath)
		if err != nil {
			return s, err
		}
		e.arbiters = append(e.arbiters, p)
	}

	// The traffic.
	mix, err := loadgen.NewMix(loadgen.MixConfig{KnownIDs: ids, AnonymousShare: c.anon, UnknownShare: c.unknown,
		Sequential: def.sequential}, uint64(c.seed))
	if err != nil {
		return s, err
	}
	conns := perReplica(max(c.conns, c.openWorkers), def.replicas)
	arb, err := loadgen.NewClient(addrs(e.arbiters), conns, c.timeout)
	if err != nil {
		return s, err
	}
	defer arb.Close()

	// Probe: every answer 200, and the size of a typical one.
	answers := loadgen.NewAnswers()
	arb.Inspect = answers.Add
	probe := loadgen.ClosedLoop(ctx, arb, mix, 4, 30*time.Second, 400)
	arb.Inspect = nil
	s.Notes = append(s.Notes, "probe: "+answers.String())
	if probe.OK == 0 || probe.OK < probe.Sent*9/10 {
		return s, fmt.Errorf("arbiter answered %d of %d probe requests with 200 (errors %v; see %s)",
			probe.OK, probe.Sent, probe.Errors, e.arbiters[0].log)
	}
	s.RespBytes = probe.RespBytes
	for i := 0; i < def.replicas; i++ {
		p, err := startCeiling(ctx, e.self, int(probe.RespBytes+0.5), filepath.Join(e.tmp, fmt.Sprintf("ceiling-%d.log", i+1)))
		if err != nil {
			return s, err
		}
		e.ceilings = append(e.ceilings, p)
	}
	ceil, err := loadgen.NewClient(addrs(e.ceilings), conns, c.timeout)
	if err != nil {
		return s, err
	}
	defer ceil.Close()

	// Warm-up: every known profile once (into the cache), then the mix.
	if !def.sequential {
		warm, err := loadgen.NewMix(loadgen.MixConfig{KnownIDs: ids, Sequential: true}, uint64(c.seed))
		if err != nil {
			return s, err
		}
		r := loadgen.ClosedLoop(ctx, arb, warm, c.conns, 2*time.Minute, int64(len(ids)))
		e.log.Info("cache warmed", "requests", r.Sent, "ok", r.OK, "took", r.Elapsed.Round(time.Millisecond))
	}
	loadgen.ClosedLoop(ctx, arb, mix, c.conns, c.warmup, 0)
	loadgen.ClosedLoop(ctx, ceil, mix, c.conns, c.warmup, 0)

	// Closed loop, alternating.
	var arbCPU, ceilCPU, harnessCPU, redisCPU time.Duration
	var rm redisMeter
	redisCPUOK := false
	if e.redis != nil {
		rm, redisCPUOK = e.redis, true
	}
	arbCPUs, ceilCPUs := procsCPU(e.arbiters), procsCPU(e.ceilings)
	var arbOK, ceilOK, allReq int64
	var settleTotal time.Duration
	for r := 0; r < c.rounds && ctx.Err() == nil; r++ {
		var round loadgen.Round
		cost, err := arbiterRound(ctx, arbCPUs, rm, func() loadgen.Result {
			return loadgen.ClosedLoop(ctx, arb, mix, c.conns, c.duration, 0)
		})
		if err != nil {
			return s, err
		}
		round.Arbiter = cost.result
		if rm != nil {
			if s.RedisCommands == nil {
				s.RedisCommands = map[string]uint64{}
			}
			for k, v := range cost.redisCommands {
				s.RedisCommands[k] += v
			}
			if redisCPUOK && cost.redisCPUErr != nil {
				e.log.Warn("no CPU time of the Redis server", "error", cost.redisCPUErr.Error())
				redisCPUOK = false
			}
			redisCPU += cost.redisCPU
		}
		settleTotal += cost.settled
		arbCPU += cost.cpu
		harnessCPU += cost.self
		arbOK += round.Arbiter.OK
		allReq += round.Arbiter.Sent
		var cpu, self time.Duration
		round.Ceiling, cpu, self, err = measured(ceilCPUs, func() loadgen.Result {
			return loadgen.ClosedLoop(ctx, ceil, mix, c.conns, c.duration, 0)
		})
		if err != nil {
			return s, err
		}
		ceilCPU += cpu
		harnessCPU += self
		ceilOK += round.Ceiling.OK
		allReq += round.Ceiling.Sent
		if round.Ceiling.Throughput > 0 {
			round.Ratio = round.Arbiter.Throughput / round.Ceiling.Throughput
		}
		e.log.Info("round", "n", r+1, "arbiter", int(round.Arbiter.Throughput), "ceiling", int(round.Ceiling.Throughput),
			"ratio", fmt.Sprintf("%.3f", round.Ratio), "errors", round.Arbiter.Errors)
		s.Rounds = append(s.Rounds, round)
	}
	var sat, ceilSat, ratios []float64
	for _, r := range s.Rounds {
		sat = append(sat, r.Arbiter.Throughput)
		ceilSat = append(ceilSat, r.Ceiling.Throughput)
		ratios = append(ratios, r.Ratio)
	}
	s.Saturation, s.Ceiling, s.Ratio = loadgen.Median(sat), loadgen.Median(ceilSat), loadgen.Median(ratios)
	if arbOK > 0 {
		s.CPUPerDecisionUS = float64(arbCPU.Microseconds()) / float64(arbOK)
		if s.RedisCommands != nil {
			s.RedisCallsPerDecision = float64(loadgen.Sum(s.RedisCommands)) / float64(arbOK)
		}
		if redisCPUOK {
			s.RedisCPUUS = float64(redisCPU.Microseconds()) / float64(arbOK)
		}
	}
	if ceilOK > 0 {
		s.CeilingCPUUS = float64(ceilCPU.Microseconds()) / float64(ceilOK)
	}
	if allReq > 0 {
		s.HarnessCPUUS = float64(harnessCPU.Microseconds()) / float64(allReq)
		s.Notes = append(s.Notes, fmt.Sprintf("the harness itself used %.0f µs of CPU per request, on the same cores", s.HarnessCPUUS))
	}
	if !def.realDeps {
		s.Notes = append(s.Notes, "CPU/decision includes the embedded Redis (miniredis) and NATS server, which run inside the Arbiter process")
	}
	if len(s.Rounds) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("after each closed-loop round the Arbiter processes kept working %.1f s on average (work the decisions left behind: events stored and counted) before the ceiling's round; that CPU is in CPU/decision",
			settleTotal.Seconds()/float64(len(s.Rounds))))
	}
	if e.redis != nil {
		s.Notes = append(s.Notes, "Redis calls (INFO commandstats) and Redis CPU are those of the whole Redis server: anything else using it meanwhile is counted too")
	}
	if ctx.Err() != nil {
		return s, ctx.Err()
	}

	// Open loop at a share of the saturation, Arbiter then ceiling.
	rate := s.Saturation * c.openShare
	if rate >= 1 {
		arbiterLoop := func() (r loadgen.Result, err error) {
			open := func() { r, err = loadgen.OpenLoop(ctx, arb, mix, rate, c.openDuration, c.openWorkers) }
			if c.trace > 0 {
				path := filepath.Join(c.out, e.name+"-open.trace")
				if note := capture(ctx, e.arbiters[0].debug, "trace", c.trace, path, open); note != "" {
					s.Notes = append(s.Notes, note)
				}
			} else {
				open()
			}
			return r, err
		}
		ceilingLoop := func() (loadgen.Result, error) {
			return loadgen.OpenLoop(ctx, ceil, mix, rate, c.openDuration, c.openWorkers)
		}
		csvDir := ""
		if c.openCSV {
			csvDir = c.out
		}
		ol, err := openLoops(arbiterLoop, ceilingLoop, func(r *loadgen.Result) (*loadgen.GCDuring, error) {
			return gcDuring(e.arbiters, r, csvDir, e.name)
		})
		s.Open, s.CeilingOpen = ol.arbiter, ol.ceiling
		if err != nil {
			return s, err
		}
		if ol.gcErr != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("the collector's cycles: %v", ol.gcErr))
		} else {
			s.OpenGC = ol.gc
			s.Notes = append(s.Notes, ol.gc.Note(&s.Open))
		}
		e.log.Info("open loop", "rate", int(rate), "arbiter_p99_us", s.Open.Latency.P99, "ceiling_p99_us", s.CeilingOpen.Latency.P99,
			"errors", s.Open.Errors)
	}

	// A CPU profile of the server under saturation, when it offers one.
	if c.pprof > 0 && ctx.Err() == nil {
		path := filepath.Join(c.out, e.name+"-cpu.pprof")
		if note := captureProfile(ctx, e.arbiters[0].debug, c.pprof, path, func() {
			loadgen.ClosedLoop(ctx, arb, mix, c.conns, c.pprof+time.Second, 0)
		}); note != "" {
			s.Notes = append(s.Notes, note)
		}
		if ctx.Err() == nil {
			s.Notes = append(s.Notes, captureHeap(ctx, e.arbiters[0].debug, filepath.Join(c.out, e.name+"-heap.pprof")))
		}
	}

	s.CountFailures()

	// What the servers counted.
	if err := e.scrape(ctx, &s); err != nil {
		s.Notes = append(s.Notes, "metrics: "+err.Error())
	}
	return s, nil
}

// openResult is what openLoops measured.
type openResult struct {
	arbiter, ceiling loadgen.Result
	// gc is what Arbiter's collector did during its loop; gcErr why it
	// could not be read.
	gc    *loadgen.GCDuring
	gcErr error
}

// openLoops runs Arbiter's open loop, then the ceiling's at the same rate,
// and only then reads with collections what Arbiter's collector did during
// its loop: the runtime writes a cycle's gctrace line when its mark ends,
// so a collection still marking when Arbiter's loop ended is in the log
// only later, and the ceiling's loop, as long as Arbiter's, is longer
// than any mark.
func openLoops(arbiter, ceiling func() (loadgen.Result, error), collections func(*loadgen.Result) (*loadgen.GCDuring, error)) (openResult, error) {
	var o openResult
	var err error
	if o.arbiter, err = arbiter(); err != nil {
		return o, err
	}
	if o.ceiling, err = ceiling(); err != nil {
		return o, err
	}
	o.gc, o.gcErr = collections(&o.arbiter)
	return o, nil
}

// cpuReader reads the CPU time some processes used so far.
type cpuReader func() (loadgen.CPUTime, error)

// procsCPU reads the summed CPU time of ps (from /proc).
func procsCPU(ps []*proc) cpuReader {
	pids := pidsOf(ps)
	return func() (loadgen.CPUTime, error) { return loadgen.ReadCPUs(pids) }
}

// selfCPU reads the harness's own CPU time.
func selfCPU() (loadgen.CPUTime, error) { return loadgen.ReadCPU(os.Getpid()) }

// redisMeter reads what the Redis server of b and d did so far.
type redisMeter interface {
	// calls are its commands' calls by name (INFO commandstats).
	calls(ctx context.Context) (map[string]uint64, error)
	// cpu is its CPU time.
	cpu(ctx context.Context) (loadgen.CPUTime, error)
}

// roundCost is one closed-loop round of Arbiter and what it cost.
type roundCost struct {
	result loadgen.Result
	// cpu is the Arbiter processes' CPU time in the round and in the wait
	// after it (settle); self the harness's in the round; settled the
	// wait's length.
	cpu, self, settled time.Duration
	// redisCommands and redisCPU are the Redis server's commands and CPU
	// time over the same span as cpu (nil and 0 without a Redis);
	// redisCPUErr says why its CPU time could not be read.
	redisCommands map[string]uint64
	redisCPU      time.Duration
	redisCPUErr   error
}

// arbiterRound runs load (a closed loop against Arbiter), waits for the
// Arbiter processes to finish the work it left behind (settle), and returns
// what it measured with its cost: the CPU time of the processes server
// reads, and with rm the Redis server's commands and CPU time, both over
// the round and the wait after it.
func arbiterRound(ctx context.Context, server cpuReader, rm redisMeter, load func() loadgen.Result) (roundCost, error) {
	var c roundCost
	var callsBefore map[string]uint64
	var redisBefore loadgen.CPUTime
	if rm != nil {
		var err error
		if callsBefore, err = rm.calls(ctx); err != nil {
			return c, err
		}
		redisBefore, c.redisCPUErr = rm.cpu(ctx)
	}
	var err error
	c.result, c.cpu, c.self, err = measured(server, load)
	if err != nil {
		return c, err
	}
	// Work the decisions left behind (events still being stored and
	// counted) is theirs: it is waited for and counted as Arbiter's CPU,
	// so that it neither runs during the ceiling's round (which it would
	// slow down, flattering the ratio) nor goes unbilled; the Redis server's
	// commands and CPU meanwhile (the counters' scripts) are the round's
	// too.
	settleCPU, settled := settle(ctx, server)
	c.cpu += settleCPU
	c.settled = settled
	if rm != nil {
		callsAfter, err := rm.calls(ctx)
		if err != nil {
			return c, err
		}
		c.redisCommands = loadgen.CommandDelta(callsBefore, callsAfter, "info")
		if c.redisCPUErr == nil {
			var redisAfter loadgen.CPUTime
			if redisAfter, c.redisCPUErr = rm.cpu(ctx); c.redisCPUErr == nil {
				c.redisCPU = redisAfter.Sub(redisBefore).Total()
			}
		}
	}
	return c, nil
}

// measured runs f and returns its result with the CPU time the processes
// server reads and the harness used meanwhile.
func measured(server cpuReader, f func() loadgen.Result) (loadgen.Result, time.Duration, time.Duration, error) {
	b, err := server()
	if err != nil {
		return loadgen.Result{}, 0, 0, err
	}
	sb, err := selfCPU()
	if err != nil {
		return loadgen.Result{}, 0, 0, err
	}
	r := f()
	a, err := server()
	if err != nil {
		return r, 0, 0, err
	}
	sa, err := selfCPU()
	if err != nil {
		return r, 0, 0, err
	}
	return r, a.Sub(b).Total(), sa.Sub(sb).Total(), nil
}

// settle waits, at most 30 s, until the processes server reads use less
// than a tenth of a core (over 200 ms), and returns the CPU time they used
// meanwhile and how long it took.
func settle(ctx context.Context, server cpuReader) (time.Duration, time.Duration) {
	start := time.Now()
	first, err := server()
	if err != nil {
		return 0, 0
	}
	last := first
	const every = 200 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Since(start) < 30*time.Second {
		select {
		case <-ctx.Done():
			return last.Sub(first).Total(), time.Since(start)
		case <-tick.C: // polling the CPU counters, not synchronisation
		}
		now, err := server()
		if err != nil {
			break
		}
		used := now.Sub(last).Total()
		last = now
		if used < every/10 {
			break
		}
	}
	return last.Sub(first).Total(), time.Since(start)
}

// scrape reads the servers' metrics, after waiting (up to 15 s) for their
// event buffers to drain.
func (e *scenarioEnv) scrape(ctx context.Context, s *loadgen.Scenario) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		var dec, deg, pub, drop, buf float64
		for _, p := range e.arbiters {
			samples, err := fetchMetrics(ctx, p.addr)
			if err != nil {
				return err
			}
			dec += loadgen.SumMetric(samples, "arbiter_decisions_total")
			deg += loadgen.SumMetric(samples, "arbiter_decisions_total", `result="degraded"`)
			pub += loadgen.SumMetric(samples, "arbiter_events_published_total")
			drop += loadgen.SumMetric(samples, "arbiter_events_dropped_total")
			buf += loadgen.SumMetric(samples, "arbiter_events_buffered")
		}
		s.Decisions, s.Degraded, s.EventsPublished, s.EventsDropped, s.EventsBuffered = dec, deg, pub, drop, buf
		if buf == 0 || time.Now().After(deadline) {
			if buf > 0 {
				s.Notes = append(s.Notes, fmt.Sprintf("%.0f events still buffered 15 s after the load", buf))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (e *scenarioEnv) stopAll() {
	for _, p := range append(append([]*proc(nil), e.arbiters...), e.ceilings...) {
		if err := p.stop(20 * time.Second); err != nil {
			e.log.Warn("stopping a process", "cmd", p.name, "error", err.Error())
		}
	}
	e.arbiters, e.ceilings = nil, nil
	if e.redis != nil {
		e.redis.close()
	}
}

func (e *scenarioEnv) cleanupReal(redisURL, keyPrefix, natsURL, subjectPrefix string) {
	e.stopAll() // the servers first: nothing writes while we delete
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := deleteKeys(ctx, redisURL, keyPrefix)
	if err != nil {
		e.log.Warn("deleting the Redis keys", "prefix", keyPrefix, "error", err.Error())
	} else {
		e.log.Info("Redis keys deleted", "prefix", keyPrefix, "count", n)
	}
	ss, err := deleteStream(ctx, natsURL, subjectPrefix)
	if err != nil {
		e.log.Warn("deleting the NATS stream", "subjects", subjectPrefix+".>", "error", err.Error())
	} else if ss.Name != "" {
		mean := 0.0
		if ss.DecisionMsgs > 0 {
			mean = float64(ss.Bytes) / float64(ss.DecisionMsgs)
		}
		e.log.Info("NATS stream deleted", "stream", ss.Name, "decision_events", ss.DecisionMsgs,
			"stored_bytes", ss.Bytes, "mean_stored_bytes_per_decision_event", fmt.Sprintf("%.0f", mean))
	}
}

func writeProfiles(path string, seed int64, n int) ([]string, error) {
	ps := profilegen.Generate(seed, n, time.Time{})
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	ids := make([]string, 0, len(ps))
	for i, p := range ps {
		id, ok := p["id"].(string)
		if !ok {
			f.Close()
			return nil, fmt.Errorf("generated profile %d has no string id", i+1)
		}
		ids = append(ids, id)
		if err := enc.Encode(p); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return ids, f.Close()
}

func perReplica(conns, replicas int) int {
	n := (conns + replicas - 1) / replicas
	if n < 1 {
		n = 1
	}
	return n
}

func relTo(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
