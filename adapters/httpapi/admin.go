package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/redact"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// RulesView is the body of GET /v1/rules.
type RulesView struct {
	Version     string           `json:"version"`
	LoadedAt    time.Time        `json:"loaded_at"`
	Source      string           `json:"source"`
	Files       []string         `json:"files"`
	Segments    []SegmentView    `json:"segments"`
	Offers      []OfferView      `json:"offers"`
	Experiments []ExperimentView `json:"experiments"`
	Arbitration ArbitrationView  `json:"arbitration"`
	LastError   *ErrorView       `json:"last_error"`
}

// SegmentView is a segment in GET /v1/rules.
type SegmentView struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	When        string `json:"when,omitempty"`
}

// OfferView is an offer in GET /v1/rules. Active is whether its schedule
// lets it be offered now (and it is not disabled), and InactiveReason says
// why not; caps are the configured limits (their counters live in Redis,
// see docs/redis.md).
type OfferView struct {
	ID              string        `json:"id"`
	Kind            string        `json:"kind"`
	Title           string        `json:"title,omitempty"`
	Message         string        `json:"message,omitempty"`
	Placements      []string      `json:"placements"`
	Segments        []string      `json:"segments"`
	ExcludeSegments []string      `json:"exclude_segments"`
	When            string        `json:"when,omitempty"`
	Group           string        `json:"group,omitempty"`
	Priority        float64       `json:"priority"`
	Score           string        `json:"score,omitempty"`
	Discount        *DiscountView `json:"discount,omitempty"`
	Fallback        bool          `json:"fallback"`
	Active          bool          `json:"active"`
	InactiveReason  string        `json:"inactive_reason,omitempty"`
	Schedule        *SchedView    `json:"schedule,omitempty"`
	Caps            *CapsView     `json:"caps,omitempty"`
}

// DiscountView is an offer's discount as written: its type and the values
// of that type (money in major units of the ruleset's currency); an
// expression is shown as its source in the *_expr field.
type DiscountView struct {
	Type          string      `json:"type"`
	Percent       *float64    `json:"percent,omitempty"`
	PercentExpr   string      `json:"percent_expr,omitempty"`
	MaxAmount     float64     `json:"max_amount,omitempty"`
	Amount        *float64    `json:"amount,omitempty"`
	AmountExpr    string      `json:"amount_expr,omitempty"`
	Tiers         []TierView  `json:"tiers,omitempty"`
	Buy           int         `json:"buy,omitempty"`
	Get           int         `json:"get,omitempty"`
	BuyGetPercent float64     `json:"get_percent,omitempty"`
	FreeShipping  bool        `json:"free_shipping,omitempty"`
	Items         string      `json:"items,omitempty"`
	Currency      string      `json:"currency,omitempty"`
	PerCurrency   interface{} `json:"per_currency,omitempty"`
}

// TierView is one spend threshold of a tiers discount.
type TierView struct {
	MinTotal float64  `json:"min_total"`
	Amount   *float64 `json:"amount,omitempty"`
	Percent  *float64 `json:"percent,omitempty"`
}

// SchedView is an offer's schedule: start (inclusive) and end (exclusive),
// the days (mon ... sun) and hours ("18:00-23:59") in its time zone.
type SchedView struct {
	Start    *time.Time `json:"start,omitempty"`
	End      *time.Time `json:"end,omitempty"`
	Days     []string   `json:"days,omitempty"`
	Hours    string     `json:"hours,omitempty"`
	Timezone string     `json:"timezone,omitempty"`
}

// CapsView is an offer's caps.
type CapsView struct {
	PerCustomer int     `json:"per_customer,omitempty"`
	Per         string  `json:"per,omitempty"`
	Total       int64   `json:"total,omitempty"`
	Budget      float64 `json:"budget,omitempty"`
	Hold        string  `json:"hold,omitempty"`
	Pacing      string  `json:"pacing,omitempty"`
}

// discountView describes a compiled discount.
func discountView(d *rules.Discount, currency string) *DiscountView {
	if d == nil {
		return nil
	}
	v := &DiscountView{Type: string(d.Type), Currency: currency, Items: d.ItemsSource}
	num := func(n rules.Number) (*float64, string) {
		if n.Expr != nil {
			return nil, n.Expr.Source
		}
		f := n.Value
		return &f, ""
	}
	switch d.Type {
	case rules.DiscountPercent:
		v.Percent, v.PercentExpr = num(d.Percent)
		v.MaxAmount = d.MaxAmount
	case rules.DiscountAmount:
		v.Amount, v.AmountExpr = num(d.Amount)
		if d.AmountBy != nil {
			v.PerCurrency = d.AmountBy
		}
	case rules.DiscountTiers:
		for _, t := range d.Tiers {
			tv := TierView{MinTotal: t.MinTotal}
			if t.IsPercent {
				p := t.Percent
				tv.Percent = &p
			} else {
				a := t.Amount
				tv.Amount = &a
			}
			v.Tiers = append(v.Tiers, tv)
		}
	case rules.DiscountBuyXGetY:
		v.Buy, v.Get, v.BuyGetPercent = d.Buy, d.Get, d.BuyGetPercent
	case rules.DiscountFreeShipping:
		v.FreeShipping = true
	}
	return v
}

// ExperimentView is an experiment in GET /v1/rules.
type ExperimentView struct {
	ID       string        `json:"id"`
	Salt     string        `json:"salt"`
	Traffic  float64       `json:"traffic"`
	Variants []VariantView `json:"variants"`
}

// VariantView is an experiment's variant.
type VariantView struct {
	ID     string   `json:"id"`
	Weight float64  `json:"weight"`
	Offers []string `json:"offers"` // the offers it overrides
}

// ArbitrationView is the arbitration settings.
type ArbitrationView struct {
	MaxActions         int      `json:"max_actions"`
	MaxDiscountPercent float64  `json:"max_discount_percent"`
	Holdout            float64  `json:"holdout"`
	Fallback           []string `json:"fallback"`
}

// ErrorView is the last reload failure.
type ErrorView struct {
	// Code is invalid_rules, or shrink_refused for a reload held back by
	// the shrink guard.
	Code    string          `json:"code"`
	At      time.Time       `json:"at"`
	Trigger string          `json:"trigger"`
	Message string          `json:"message"`
	Errors  []RuleErrorView `json:"errors"`
}

// RuleErrorView is one error in the rule files.
type RuleErrorView struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	Text    string `json:"text"` // file:line:col: message (hint)
}

func errorView(f *rulefiles.Failure) *ErrorView {
	if f == nil {
		return nil
	}
	v := &ErrorView{Code: wire.CodeInvalidRules, At: f.At.UTC(), Trigger: f.Trigger, Message: f.Message, Errors: []RuleErrorView{}}
	if f.Refused {
		v.Code = wire.CodeShrinkRefused
	}
	for _, e := range f.Errors {
		v.Errors = append(v.Errors, RuleErrorView{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col,
			Message: e.Msg, Hint: e.Hint, Text: e.Error()})
	}
	return v
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// View describes a ruleset snapshot as of now.
func View(snap *rulefiles.Snapshot, last *rulefiles.Failure, now time.Time) RulesView {
	rs := snap.Ruleset
	v := RulesView{
		Version: rs.Version, LoadedAt: snap.LoadedAt.UTC(), Source: snap.Source, Files: nonNil(rs.Files),
		Segments: []SegmentView{}, Offers: []OfferView{}, Experiments: []ExperimentView{},
		Arbitration: ArbitrationView{
			MaxActions: rs.Arbitration.MaxActions, MaxDiscountPercent: rs.Arbitration.MaxDiscountPercent,
			Holdout: rs.Arbitration.Holdout, Fallback: nonNil(rs.Arbitration.Fallback),
		},
		LastError: errorView(last),
	}
	for _, sg := range rs.Segments {
		sv := SegmentView{ID: sg.ID, Description: sg.Description}
		if sg.When != nil {
			sv.When = sg.When.Source
		}
		v.Segments = append(v.Segments, sv)
	}
	for _, o := range rs.Offers {
		ov := OfferView{ID: o.ID, Kind: o.Kind, Title: o.Title.Source, Message: o.Message.Source, Placements: nonNil(o.Placements),
			Segments: nonNil(o.Segments), ExcludeSegments: nonNil(o.ExcludeSegments), Group: o.Group, Priority: o.Priority,
			Fallback: o.Fallback, Active: !o.Disabled && o.Schedule.Active(now), Discount: discountView(o.Discount, rs.Currency)}
		if o.When != nil {
			ov.When = o.When.Source
		}
		if o.Score != nil {
			ov.Score = o.Score.Source
		}
		if o.Disabled {
			ov.InactiveReason = "disabled"
		} else if !ov.Active {
			ov.InactiveReason = o.Schedule.Why(now)
		}
		if sc := o.Schedule; sc != nil {
			sv := &SchedView{Days: sc.DayList(), Hours: sc.HoursText()}
			if !sc.Start.IsZero() {
				t := sc.Start
				sv.Start = &t
			}
			if !sc.End.IsZero() {
				t := sc.End
				sv.End = &t
			}
			if sc.Location != nil {
				sv.Timezone = sc.Location.String()
			}
			ov.Schedule = sv
		}
		if o.Caps.Any() {
			c := &CapsView{PerCustomer: o.Caps.PerCustomer, Total: o.Caps.Total, Budget: o.Caps.Budget, Pacing: o.Caps.Pacing}
			if o.Caps.Hold > 0 {
				c.Hold = o.Caps.Hold.String()
			}
			if o.Caps.Window > 0 {
				c.Per = o.Caps.Window.String()
			}
			ov.Caps = c
		}
		v.Offers = append(v.Offers, ov)
	}
	for _, e := range rs.Experiments {
		ev := ExperimentView{ID: e.ID, Salt: e.Salt, Traffic: e.Traffic, Variants: []VariantView{}}
		for _, va := range e.Variants {
			vv := VariantView{ID: va.ID, Weight: va.Weight, Offers: []string{}}
			for _, o := range va.Offers {
				vv.Offers = append(vv.Offers, o.ID)
			}
			sort.Strings(vv.Offers)
			ev.Variants = append(ev.Variants, vv)
		}
		v.Experiments = append(v.Experiments, ev)
	}
	return v
}

func (s *Server) writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding a response", "error", err.Error())
		s.writeError(ctx, fasthttp.StatusInternalServerError, wire.CodeInternal, "internal error encoding the response", "")
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// getRules serves GET /v1/rules.
func (s *Server) getRules(ctx *fasthttp.RequestCtx) {
	snap := s.o.Rules.Current()
	if snap == nil {
		s.writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]any{
			"error":      errorBody{Error: wire.Error{Code: wire.CodeNoRuleset, Message: "no ruleset is loaded yet"}},
			"last_error": errorView(s.o.Rules.LastError()),
		})
		return
	}
	s.writeJSON(ctx, fasthttp.StatusOK, View(snap, s.o.Rules.LastError(), s.o.Now()))
}

// errorBody is the spec's error (wire.Error) with the errors of the rule
// files, for the rules routes.
type errorBody struct {
	wire.Error
	Errors []RuleErrorView `json:"errors,omitempty"`
}

// ReloadView is the body of a successful POST /v1/rules/reload.
type ReloadView struct {
	Version  string    `json:"version"`
	Previous string    `json:"previous"`
	Changed  bool      `json:"changed"`
	LoadedAt time.Time `json:"loaded_at"`
}

// shrinkReloader reloads with options (*rulefiles.Reloader does).
type shrinkReloader interface {
	ReloadWith(trigger string, o rulefiles.ReloadOptions) (*rulefiles.Snapshot, error)
}

// reloadRules serves POST /v1/rules/reload: 200 with the new version, 422
// invalid_rules with the errors, or 409 shrink_refused when the new rules
// lack more than half of the offers in force (the body
// {"allow_shrink": true} lets that through); after a failure the old
// ruleset keeps serving.
func (s *Server) reloadRules(ctx *fasthttp.RequestCtx) {
	rq, derr := wire.DecodeReload(ctx.PostBody())
	if derr != nil {
		var we *wire.Error
		if !errors.As(derr, &we) { // DecodeReload's errors are *wire.Error
			we = &wire.Error{Code: wire.CodeInvalidRequest, Message: derr.Error()}
		}
		s.bodyError(ctx, we)
		return
	}
	prev := s.o.Rules.Current()
	var snap *rulefiles.Snapshot
	var err error
	if sr, ok := s.o.Rules.(shrinkReloader); ok {
		snap, err = sr.ReloadWith(rulefiles.TriggerAPI, rulefiles.ReloadOptions{AllowShrink: rq.AllowShrink})
	} else {
		snap, err = s.o.Rules.Reload(rulefiles.TriggerAPI)
	}
	if err != nil {
		serving := ""
		if snap != nil {
			serving = snap.Ruleset.Version
		}
		if errors.Is(err, rulefiles.ErrShrinkRefused) {
			body := errorBody{Error: wire.Error{Code: wire.CodeShrinkRefused,
				Message: err.Error() + "; the ruleset " + serving + " keeps serving"}}
			s.writeJSON(ctx, fasthttp.StatusConflict, map[string]any{"error": body, "version": serving})
			return
		}
		ev := errorView(s.o.Rules.LastError())
		body := errorBody{Error: wire.Error{Code: wire.CodeInvalidRules, Message: err.Error()}, Errors: []RuleErrorView{}}
		if ev != nil {
			body.Message, body.Errors = ev.Message, ev.Errors
		}
		var es rules.Errors
		if !errors.As(err, &es) {
			body.Message = err.Error()
		}
		if serving != "" {
			body.Message += "; the ruleset " + serving + " keeps serving"
		} else {
			body.Message += "; no ruleset is serving"
		}
		s.writeJSON(ctx, fasthttp.StatusUnprocessableEntity, map[string]any{"error": body, "version": serving})
		return
	}
	v := ReloadView{Version: snap.Ruleset.Version, LoadedAt: snap.LoadedAt.UTC()}
	if prev != nil {
		v.Previous = prev.Ruleset.Version
	}
	v.Changed = v.Previous != v.Version
	s.writeJSON(ctx, fasthttp.StatusOK, v)
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"status":"ok"}`)
}

// ReadyView is the body of GET /readyz.
type ReadyView struct {
	Ready   bool   `json:"ready"`
	Ruleset string `json:"ruleset"`
	// Dependencies says "up" or "down" for each dependency (redis, nats)
	// and for rules (a ruleset serving); never why: a check's error names
	// hosts and users, and /readyz needs no key. The log says why.
	Dependencies map[string]string `json:"dependencies"`
	// Draining: shutting down (SIGTERM); not ready whatever the rest says.
	Draining bool `json:"draining,omitempty"`
}

// ReadyCacheTTL is how long /readyz reuses the result of its dependency
// checks: a request within it of the last check's start is answered from
// that result, so that a probe storm or a scanner, which need no key, make
// at most one check of Redis and NATS a second per replica. A dependency
// going down or up shows within it.
const ReadyCacheTTL = time.Second

// Dependency states in ReadyView.
const (
	StateUp   = "up"
	StateDown = "down"
)

// readyz serves GET /readyz: 200 once a ruleset is loaded (and not
// draining), else 503, with the state of every dependency either way. A
// dependency that is down does not make the server unready: decisions
// still answer, degraded. A dependency going down is logged at warn (its
// error redacted), once per change of state, and back up at info. The
// dependencies' states come from dependencyStates (checked at most once a
// ReadyCacheTTL); the rules and draining are read at every request.
func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	deps := s.dependencyStates()
	v := ReadyView{Dependencies: make(map[string]string, len(deps)+1)}
	for name, state := range deps {
		v.Dependencies[name] = state
	}
	status := fasthttp.StatusServiceUnavailable
	v.Dependencies["rules"] = StateDown
	if snap := s.o.Rules.Current(); snap != nil {
		v.Ready, v.Ruleset = true, snap.Ruleset.Version
		v.Dependencies["rules"] = StateUp
		status = fasthttp.StatusOK
	}
	if s.draining.Load() {
		v.Ready, v.Draining = false, true
		status = fasthttp.StatusServiceUnavailable
	}
	s.writeJSON(ctx, status, v)
}

// readyCache is the last result of /readyz's dependency checks, and the
// checks in flight.
type readyCache struct {
	mu     sync.Mutex
	at     time.Time         // when the checks of states began (Options.Now)
	states map[string]string // dependency → StateUp or StateDown; nil: none yet; read only
	flight *readyFlight      // the checks in flight; nil: none
}

// readyFlight is one run of the dependency checks: states is set before
// done is closed.
type readyFlight struct {
	done   chan struct{}
	states map[string]string
}

// dependencyStates returns the state of every dependency (Options.Checks):
// the last result when its checks began less than ReadyCacheTTL ago (by
// Options.Now; a clock stepped back counts as expired), else the result of
// the checks in flight, or of new ones this call runs. At most one run of
// the checks is in flight, however many requests ask. The map returned is
// shared: read it only.
func (s *Server) dependencyStates() map[string]string {
	c := &s.ready
	c.mu.Lock()
	now := s.o.Now()
	if c.states != nil && !now.Before(c.at) && now.Sub(c.at) < ReadyCacheTTL {
		states := c.states
		c.mu.Unlock()
		return states
	}
	if f := c.flight; f != nil {
		c.mu.Unlock()
		<-f.done // bounded by CheckTimeout
		return f.states
	}
	f := &readyFlight{done: make(chan struct{})}
	c.flight = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if f.states != nil {
			c.states, c.at = f.states, now
		}
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	f.states = s.checkDependencies()
	return f.states
}

// checkDependencies runs every check at once, each bounded by CheckTimeout.
func (s *Server) checkDependencies() map[string]string {
	states := make(map[string]string, len(s.o.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range s.o.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(context.Background(), s.o.CheckTimeout)
			defer cancel()
			err := runCheck(cctx, check)
			state := StateUp
			if err != nil {
				state = StateDown
				if name == "redis" {
					s.metrics.RedisError(metrics.RedisOpReadiness)
				}
			}
			s.noteState(name, err)
			mu.Lock()
			states[name] = state
			mu.Unlock()
		})
	}
	wg.Wait()
	return states
}

// runCheck runs check, a panic in it returned as its error: a check that
// panics says its dependency is down, and never stops the server.
func runCheck(ctx context.Context, check Check) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the readiness check panicked: %v", p)
		}
	}()
	return check(ctx)
}

// noteState logs a dependency's change of state seen by /readyz.
func (s *Server) noteState(name string, err error) {
	down := err != nil
	prev, seen := s.depDown.Swap(name, down)
	if seen && prev.(bool) == down {
		return
	}
	if down {
		s.log.Warn("readiness: a dependency is down", "dependency", name, "error", redact.Text(err.Error()))
	} else if seen {
		s.log.Info("readiness: a dependency is up again", "dependency", name)
	}
}

func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx) { s.metrics.Handler()(ctx) }

// RecordReload returns a reload hook (rulefiles.Options.OnReload) that counts
// reloads by result in m and records the version in force.
func RecordReload(m *metrics.Metrics) func(rulefiles.Result) {
	return func(r rulefiles.Result) {
		switch {
		case r.Refused:
			m.Reload(metrics.ReloadRefused, "")
		case r.Err != nil:
			m.Reload(metrics.ReloadError, "")
		case r.Changed:
			m.Reload(metrics.ReloadOK, r.Snapshot.Ruleset.Version)
		default:
			m.Reload(metrics.ReloadUnchanged, r.Snapshot.Ruleset.Version)
		}
	}
}
