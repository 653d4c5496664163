package httpapi

import (
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// BudgetsView is the body of GET /v1/budgets: every offer with a total cap
// or a budget, as counted by the ledger now.
type BudgetsView struct {
	// Currency is the ruleset's currency, in which every amount is
	// written; "" without one (then one entry per offer and currency
	// counted, each naming its currency).
	Currency string       `json:"currency"`
	AsOf     time.Time    `json:"as_of"`
	Offers   []BudgetView `json:"offers"`
}

// BudgetView is one offer's caps in one currency.
type BudgetView struct {
	OfferID  string `json:"offer_id"`
	Active   bool   `json:"active"`
	Currency string `json:"currency"`
	Hold     string `json:"hold,omitempty"`
	Pacing   string `json:"pacing,omitempty"`
	// Count is the total cap (grants); nil without one.
	Count *CountView `json:"count,omitempty"`
	// Amount is the budget; nil without one.
	Amount *AmountView `json:"amount,omitempty"`
	// OverCapCommits counts conversions after a hold expired that took the
	// offer past a cap (a late commit always commits).
	OverCapCommits int64       `json:"over_cap_commits"`
	Window         *WindowView `json:"window,omitempty"`
}

// CountView is a total cap: Remaining = Limit − Committed − Held (never
// below 0); AllowedNow, under pacing, is how many grants the pacing allows
// by now (⌈limit × f⌉).
type CountView struct {
	Limit      int64  `json:"limit"`
	Committed  int64  `json:"committed"`
	Held       int64  `json:"held"`
	Remaining  int64  `json:"remaining"`
	AllowedNow *int64 `json:"allowed_now,omitempty"`
}

// AmountView is a budget, in the entry's currency; AllowedNow, under
// pacing, is how much the pacing allows spent by now (⌊limit × f⌋).
type AmountView struct {
	Limit      engine.Money  `json:"limit"`
	Committed  engine.Money  `json:"committed"`
	Held       engine.Money  `json:"held"`
	Remaining  engine.Money  `json:"remaining"`
	AllowedNow *engine.Money `json:"allowed_now,omitempty"`
}

// WindowView is an offer's schedule window (the one pacing spreads over).
type WindowView struct {
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

// budgets serves GET /v1/budgets.
func (s *Server) budgets(ctx *fasthttp.RequestCtx) {
	now := s.o.Now()
	snap := s.o.Rules.Current()
	if snap == nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeNoRuleset, "no ruleset is loaded yet", "")
		return
	}
	if s.o.Grants == nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeLedgerUnavail, "this server has no ledger to read", "")
		return
	}
	rs := snap.Ruleset
	var qs []engine.BudgetQuery
	var offers []*rules.Offer
	for _, o := range rs.Offers {
		if o.Caps.Total == 0 && o.Caps.Budget == 0 {
			continue
		}
		q := engine.BudgetQuery{OfferID: o.ID}
		if rs.Currency != "" {
			q.Currencies = []string{rs.Currency}
		}
		qs = append(qs, q)
		offers = append(offers, o)
	}
	v := BudgetsView{Currency: rs.Currency, AsOf: now.UTC(), Offers: []BudgetView{}}
	if len(qs) > 0 {
		gctx, cancel := context.WithTimeout(context.Background(), s.o.GrantsTimeout)
		states, err := s.o.Grants.Budgets(gctx, now, qs)
		cancel()
		if err != nil {
			s.log.Warn("GET /v1/budgets: the ledger did not answer", "error", err.Error())
			s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeLedgerUnavail,
				"the ledger (Redis) did not answer in time; retry, and see /readyz", "")
			return
		}
		byOffer := map[string]*rules.Offer{}
		for _, o := range offers {
			byOffer[o.ID] = o
		}
		for _, st := range states {
			if o := byOffer[st.OfferID]; o != nil {
				v.Offers = append(v.Offers, budgetView(o, st, now))
			}
		}
	}
	s.writeJSON(ctx, fasthttp.StatusOK, v)
}

// budgetView is one offer's state in one currency.
func budgetView(o *rules.Offer, st engine.BudgetState, now time.Time) BudgetView {
	v := BudgetView{OfferID: o.ID, Active: !o.Disabled && o.Schedule.Active(now), Currency: st.Currency,
		Pacing: o.Caps.Pacing, OverCapCommits: st.OverCap}
	if o.Caps.Hold > 0 {
		v.Hold = formatDuration(o.Caps.Hold)
	}
	var start, end time.Time
	if sc := o.Schedule; sc != nil && (!sc.Start.IsZero() || !sc.End.IsZero()) {
		start, end = sc.Start, sc.End
		v.Window = &WindowView{}
		if !start.IsZero() {
			t := start.UTC()
			v.Window.Start = &t
		}
		if !end.IsZero() {
			t := end.UTC()
			v.Window.End = &t
		}
	}
	paced := o.Caps.Pacing != "" && !start.IsZero() && !end.IsZero()
	exp, ok := engine.CurrencyExp(st.Currency)
	if !ok {
		exp = 2
	}
	limit := int64(0)
	if o.Caps.Budget > 0 {
		limit = engine.BudgetMinor(o.Caps.Budget, exp) // the limit decisions are held to
	}
	shareT, shareB := int64(0), int64(0)
	if paced {
		shareT, shareB = engine.PacedShares(o.Caps.Total, limit, start, end, now)
	}
	if o.Caps.Total > 0 {
		c := &CountView{Limit: o.Caps.Total, Committed: st.Count - st.Held, Held: st.Held,
			Remaining: max(0, o.Caps.Total-st.Count)}
		if paced {
			c.AllowedNow = &shareT
		}
		v.Count = c
	}
	if o.Caps.Budget > 0 {
		m := func(minor int64) engine.Money { return engine.Money{Minor: minor, Exp: exp} }
		a := &AmountView{Limit: m(limit), Committed: m(st.Spent - st.HeldAmount), Held: m(st.HeldAmount),
			Remaining: m(max(0, limit-st.Spent))}
		if paced {
			b := m(shareB)
			a.AllowedNow = &b
		}
		v.Amount = a
	}
	return v
}

// formatDuration writes a duration as the rule files do: 30m, 2h, 7d.
func formatDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
