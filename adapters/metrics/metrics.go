// Package metrics holds Arbiter's Prometheus metrics, on a registry of its
// own (no global state), and serves them in the Prometheus text format.
// Every metric name is documented in docs/operations.md.
package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Decision results, the values of the "result" label of
// arbiter_decisions_total.
const (
	ResultOK         = "ok"         // a decision with nothing degraded
	ResultDegraded   = "degraded"   // a decision with a degraded part (profile, ledger)
	ResultInvalid    = "invalid"    // the request was refused (400)
	ResultNoRuleset  = "no_ruleset" // no ruleset loaded (503)
	ResultError      = "error"      // an internal error (500)
	ReloadOK         = "ok"         // a reload that swapped in a new ruleset
	ReloadUnchanged  = "unchanged"  // a reload that compiled to the version already serving
	ReloadError      = "error"      // a reload that failed; the old ruleset keeps serving
	ReloadRefused    = "refused"    // a reload held back by the shrink guard; the old ruleset keeps serving
	RedisOpProfile   = "profile"    // a profile fetch failed or timed out
	RedisOpLedger    = "ledger"     // the ledger was unreachable during a decision
	RedisOpReadiness = "readiness"  // the readiness ping failed
)

// EventStats are the event publisher's counters.
type EventStats struct {
	Published, Buffered, Dropped uint64
	// Truncated: decision events published without their request, too
	// large for the stream.
	Truncated uint64
	// Resent: events sent again without an acknowledgement covering them.
	Resent uint64
	// Parked: events a cluster's stream answered "in process" for,
	// waiting apart (counted in Buffered too).
	Parked uint64
}

// Metrics is the set of Arbiter's metrics. It implements engine.Observer.
// All methods are safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	decisions   *counters // by placement and result
	latency     prometheus.Histogram
	grants      *counters // by offer
	ruleErrors  *prometheus.CounterVec
	redisErrors *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	outcomes    *prometheus.CounterVec
	rulesetInfo *prometheus.GaugeVec
	lastReload  prometheus.Gauge
	handler     fasthttp.RequestHandler
	grantMetrics

	// learning.go
	refreshOnce sync.Once
	refreshes   *prometheus.CounterVec
}

// New returns the metrics on a new registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		decisions: newCounters(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_decisions_total",
			Help: "Decision requests by placement and result (ok, degraded, invalid, no_ruleset, error; a decision past its deadline is answered degraded and counted as degraded).",
		}, []string{"placement", "result"}), 2),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "arbiter_decision_duration_seconds",
			Help:    "Time from a decision request's arrival to its response being ready (took_us).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
		grants: newCounters(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_grants_total",
			Help: "Offers granted (returned by a decision that is not a dry run), by offer.",
		}, []string{"offer"}), 1),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_rule_errors_total",
			Help: "Expressions that failed at run time (the rule did not match), by rule id.",
		}, []string{"rule"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_redis_errors_total",
			Help: "Redis failures and timeouts by operation (profile, ledger, readiness).",
		}, []string{"op"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_rules_reloads_total",
			Help: "Rule reloads by result (ok, unchanged, error, refused: held back by the shrink guard).",
		}, []string{"result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_outcomes_total",
			Help: "Outcomes accepted, by type.",
		}, []string{"type"}),
		rulesetInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "arbiter_ruleset_info",
			Help: "1 for the version of the ruleset in force.",
		}, []string{"version"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "arbiter_rules_last_reload_success",
			Help: "1 when the last reload succeeded, 0 when it failed or was held back (the previous ruleset keeps serving).",
		}),
	}
	m.grantMetrics = newGrantMetrics(reg)
	reg.MustRegister(m.decisions.vec, m.latency, m.grants.vec, m.ruleErrors, m.redisErrors, m.reloads,
		m.outcomes, m.rulesetInfo, m.lastReload,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

// Registry returns the registry, to add collectors or gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() fasthttp.RequestHandler { return m.handler }

// RuleError counts a rule whose expression failed at run time
// (engine.Observer).
func (m *Metrics) RuleError(ruleID string) { m.ruleErrors.WithLabelValues(ruleID).Inc() }

// Granted counts a grant of an offer (engine.Observer).
func (m *Metrics) Granted(offerID string) { m.grants.get(offerID, "").Inc() }

// Decision counts a decision request and, when d > 0, observes its latency.
func (m *Metrics) Decision(placement, result string, d time.Duration) {
	m.decisions.get(placement, result).Inc()
	if d > 0 {
		m.latency.Observe(d.Seconds())
	}
}

// counters are a CounterVec of one or two labels and its counters, once
// looked up: WithLabelValues hashes the labels' values on every call
// (BenchmarkCountDecision), a lookup here takes no lock and allocates
// nothing. New label values copy the map: there are as many as offers,
// or placements times results.
type counters struct {
	vec    *prometheus.CounterVec
	labels int
	mu     sync.Mutex // held to add
	m      atomic.Pointer[map[[2]string]prometheus.Counter]
}

func newCounters(vec *prometheus.CounterVec, labels int) *counters {
	return &counters{vec: vec, labels: labels}
}

// get returns the counter of the values a and, with two labels, b.
func (c *counters) get(a, b string) prometheus.Counter {
	if m := c.m.Load(); m != nil {
		if ctr, ok := (*m)[[2]string{a, b}]; ok {
			return ctr
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if ctr, ok := (*old)[[2]string{a, b}]; ok {
			return ctr
		}
	}
	var ctr prometheus.Counter
	if c.labels == 1 {
		ctr = c.vec.WithLabelValues(a)
	} else {
		ctr = c.vec.WithLabelValues(a, b)
	}
	var m map[[2]string]prometheus.Counter
	if old != nil {
		m = maps.Clone(*old)
	} else {
		m = make(map[[2]string]prometheus.Counter, 1)
	}
	m[[2]string{a, b}] = ctr
	c.m.Store(&m)
	return ctr
}

// RedisError counts a Redis failure of an operation (RedisOp*).
func (m *Metrics) RedisError(op string) { m.redisErrors.WithLabelValues(op).Inc() }

// Outcome counts an accepted outcome of a type.
func (m *Metrics) Outcome(typ string) { m.outcomes.WithLabelValues(typ).Inc() }

// Reload counts a reload by result (Reload*) and, on success, records the
// version in force.
func (m *Metrics) Reload(result, version string) {
	m.reloads.WithLabelValues(result).Inc()
	if result == ReloadError || result == ReloadRefused {
		m.lastReload.Set(0)
		return
	}
	m.lastReload.Set(1)
	if version != "" {
		m.rulesetInfo.Reset()
		m.rulesetInfo.WithLabelValues(version).Set(1)
	}
}

// EventStatsFunc exports the event publisher's counters, read at each
// scrape: arbiter_events_published_total, arbiter_events_buffered,
// arbiter_events_dropped_total, arbiter_events_resent_total,
// arbiter_events_truncated_total and arbiter_events_parked. Call it once.
func (m *Metrics) EventStatsFunc(stats func() EventStats) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_events_published_total",
			Help: "Events acknowledged by NATS.",
		}, func() float64 { return float64(stats().Published) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "arbiter_events_buffered",
			Help: "Events waiting in the bounded buffer (NATS slow or down).",
		}, func() float64 { return float64(stats().Buffered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_events_dropped_total",
			Help: "Events lost: the buffer (--event-buffer) was full, the stream refused them for good, or they were still buffered or published after the publisher closed at shutdown.",
		}, func() float64 { return float64(stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_events_resent_total",
			Help: "Events sent again because no acknowledgement covered them (connection dropped, ack timeout); stored once within the stream's duplicate window.",
		}, func() float64 { return float64(stats().Resent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_events_truncated_total",
			Help: "Decision events published without their request (request_truncated): larger than the stream's message size.",
		}, func() float64 { return float64(stats().Truncated) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "arbiter_events_parked",
			Help: "Events a NATS cluster's stream answered 'duplicate message id is in process' for, asked again apart while the events after them go on (also in arbiter_events_buffered).",
		}, func() float64 { return float64(stats().Parked) }),
	)
}

// CacheStatsFunc exports the profile cache's counters, read at each scrape:
// arbiter_profile_cache_hits_total and arbiter_profile_cache_misses_total.
// Call it once.
func (m *Metrics) CacheStatsFunc(stats func() (hits, misses uint64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_profile_cache_hits_total",
			Help: "Profile lookups answered by the in-process cache.",
		}, func() float64 { h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_profile_cache_misses_total",
			Help: "Profile lookups that went to Redis.",
		}, func() float64 { _, mi := stats(); return float64(mi) }),
	)
}

// ProfileStats are the profile store's counters.
type ProfileStats struct {
	// BadFields: stored profile values that did not parse under the
	// schema (read as missing; docs/redis.md, "The profile hash").
	BadFields uint64
}

// ProfileStatsFunc exports the profile store's counters, read at each
// scrape: arbiter_profile_bad_fields_total. Call it once.
func (m *Metrics) ProfileStatsFunc(stats func() ProfileStats) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "arbiter_profile_bad_fields_total",
			Help: "Stored profile values that did not parse under the rules' schema (read as missing, never failing a decision): a data team's write to look at with arbiter profiles get --rules.",
		}, func() float64 { return float64(stats().BadFields) }),
	)
}
