package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiterhq/arbiter/engine"
)

// Results of Idempotency-Keys, the values of the "result" label of
// arbiter_idempotency_total.
const (
	IdemReplayed    = "replayed"    // a repeated request answered with the first answer
	IdemConflict    = "conflict"    // the key was used with another body (409)
	IdemInFlight    = "in_flight"   // the first request was still being decided (409)
	IdemUnavailable = "unavailable" // the ledger could not claim the key: decided without the guarantee
	IdemNotStored   = "not_stored"  // an answer could not be stored for the key
)

// grantMetrics are the metrics of the ledger's grants: holds and their
// transitions, refused outcomes, Idempotency-Keys.
type grantMetrics struct {
	transitions *prometheus.CounterVec
	overCap     prometheus.Counter
	refused     *prometheus.CounterVec
	refusedConv prometheus.Counter
	unverified  prometheus.Counter
	unknownVars prometheus.Counter
	idem        *prometheus.CounterVec
	reg         *prometheus.Registry
}

func newGrantMetrics(reg *prometheus.Registry) grantMetrics {
	g := grantMetrics{
		reg: reg,
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_grant_transitions_total",
			Help: "Grants moved by outcomes, by transition: commit (held → committed), late_commit (released → committed), release (held → released by a dismissal), expiry (a hold that had expired when its outcome occurred), cancel (committed → cancelled), success (a learning success).",
		}, []string{"transition"}),
		overCap: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arbiter_over_cap_commits_total",
			Help: "Late commits (a conversion after its hold expired) that took an offer past its total or budget.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_outcomes_refused_total",
			Help: "Outcomes refused, by code (unknown_decision, customer_mismatch, decision_expired, unknown_offer, occurred_before_decision) and source (api, stream).",
		}, []string{"code", "source"}),
		refusedConv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arbiter_commits_refused_total",
			Help: "Converted outcomes refused (they commit nothing), from the API and the stream.",
		}),
		unverified: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arbiter_outcomes_unverified_total",
			Help: "Outcomes accepted while the ledger was unreachable, published with \"verified\": false for the feedback consumer to check and apply.",
		}),
		unknownVars: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arbiter_outcome_unknown_variants_total",
			Help: "Experiment variants of outcomes' decision ids that no ruleset served recently knows (dropped from the outcome events).",
		}),
		idem: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_idempotency_total",
			Help: "Requests with an Idempotency-Key that were not decided afresh, by result (replayed, conflict, in_flight, unavailable, not_stored).",
		}, []string{"result"}),
	}
	reg.MustRegister(g.transitions, g.overCap, g.refused, g.refusedConv, g.unverified, g.unknownVars, g.idem)
	return g
}

// GrantTransitions counts what applying an outcome moved.
func (g *grantMetrics) GrantTransitions(r engine.OutcomeResult) {
	for _, t := range []struct {
		name string
		n    int
	}{{"commit", r.Commits}, {"late_commit", r.LateCommits}, {"release", r.Releases}, {"expiry", r.Expiries},
		{"cancel", r.Cancels}, {"success", r.Successes}} {
		if t.n > 0 {
			g.transitions.WithLabelValues(t.name).Add(float64(t.n))
		}
	}
	if r.OverCap > 0 {
		g.overCap.Add(float64(r.OverCap))
	}
}

// OutcomeRefused counts an outcome of type typ refused by the API with
// code.
func (g *grantMetrics) OutcomeRefused(code, typ string) { g.refusedFrom(code, typ, "api") }

// StreamOutcomeRefused counts an outcome of type typ refused by the
// feedback consumer with code.
func (g *grantMetrics) StreamOutcomeRefused(code, typ string) { g.refusedFrom(code, typ, "stream") }

func (g *grantMetrics) refusedFrom(code, typ, source string) {
	g.refused.WithLabelValues(code, source).Inc()
	if typ == engine.OutcomeConverted {
		g.refusedConv.Inc()
	}
}

// OutcomeUnverified counts an outcome published with "verified": false.
func (g *grantMetrics) OutcomeUnverified() { g.unverified.Inc() }

// UnknownVariants counts variant codes of a decision id that no served
// ruleset knows.
func (g *grantMetrics) UnknownVariants(n int) { g.unknownVars.Add(float64(n)) }

// Idempotency counts a request with an Idempotency-Key by result
// (Idem*).
func (g *grantMetrics) Idempotency(result string) { g.idem.WithLabelValues(result).Inc() }

// LedgerStats are the ledger's own counters.
type LedgerStats struct {
	Holds    uint64 // grants held
	Expiries uint64 // holds released because they expired
	Undone   uint64 // calls given up on and undone (issue 13, item 4)
}

// LedgerStatsFunc exports the ledger's counters, read at each scrape:
// arbiter_grant_holds_total, arbiter_grant_expiries_total and
// arbiter_ledger_undone_total. Call it once.
func (g *grantMetrics) LedgerStatsFunc(stats func() LedgerStats) {
	g.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_grant_holds_total",
			Help: "Grants held (offers with caps.hold), by this process."}, func() float64 { return float64(stats().Holds) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_grant_expiries_total",
			Help: "Holds released because they expired, found by this process's ledger calls."}, func() float64 { return float64(stats().Expiries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arbiter_ledger_undone_total",
			Help: "Ledger calls given up on (deadline, lost reply, too few replicas) and undone, so that no unit is used without a grant."},
			func() float64 { return float64(stats().Undone) }),
	)
}
