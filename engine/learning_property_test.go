package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// Learning changes scores only. Over random rulesets (segments, offers
// with groups, caps, budgets, placements, schedules, fallbacks, scores
// that read propensity or not), random experiments (overrides, disabled
// offers, learning: false), a random holdout and guardrail, and random
// statistics (sometimes down), every decision with learning satisfies every
// constraint that the static decision of the same request satisfies: the
// same segments, holdout and experiments; the same offers eligible, for
// the same reasons; caps and budgets as the ledger says (the same ledger
// answers for both); at most one offer per group; the guardrail and the
// limit; fallbacks only when the main pass granted nothing; every offer
// left out with a reason that holds; the same discount amounts.
func TestLearningChangesScoresOnly(t *testing.T) {
	const rulesets = 60
	decisions := 0
	differ := 0
	checked := false
	for seed := uint64(1); seed <= rulesets; seed++ {
		r := rand.New(rand.NewPCG(seed, 77))
		src := randomLearningRules(r)
		rs := load(t, map[string]string{"rules.yaml": src})
		st := &stats{down: r.IntN(8) == 0}
		for _, o := range rs.Offers {
			for _, cell := range []string{"all", "s0", "s1", "s2"} {
				tr := float64(r.IntN(2000))
				st.set(o.ID, cell, tr, float64(r.IntN(int(tr)+1)))
			}
		}
		led := capLedger{seed: seed}
		learn := New(Options{Statistics: st, Ledger: led})
		static := New(Options{Statistics: st, Ledger: led, Static: true})
		for i := 0; i < 60; i++ {
			p, req := randomLearningRequest(r, rs, i)
			ds, err1 := static.Decide(context.Background(), rs, p, cloneReq(req))
			dl, err2 := learn.Decide(context.Background(), rs, p, cloneReq(req))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			decisions++
			if actionIDs(ds) != actionIDs(dl) {
				differ++
			}
			for _, d := range []*Decision{ds, dl} {
				if msg := checkConstraints(rs, req, d, led); msg != "" {
					t.Fatalf("ruleset %d, decision %d (%s): %s\nstatic %s, learning %s\n%s", seed, i, which(d, dl), msg, actionIDs(ds), actionIDs(dl), src)
				}
			}
			if msg := sameBeforeScores(ds, dl); msg != "" {
				t.Fatalf("ruleset %d, decision %d: %s\n%s", seed, i, msg, src)
			}
			// the checks can fail: a decision with one action too many, or
			// one action twice (its group twice, or past the limit)
			if n := len(dl.Actions); n > 0 && !checked {
				forged := *dl
				forged.Actions = append(slices.Clone(dl.Actions), dl.Actions[0])
				if checkConstraints(rs, req, &forged, led) == "" && effective(rs, dl, mustOffer(rs, dl.Actions[0].OfferID)).Group != "" {
					t.Fatal("the checks accept an action twice")
				}
				checked = effective(rs, dl, mustOffer(rs, dl.Actions[0].OfferID)).Group != ""
			}
		}
	}
	// the property was tested on decisions that learning changed
	if differ < 150 {
		t.Fatalf("learning changed only %d of %d decisions", differ, decisions)
	}
	t.Logf("%d decisions, %d changed by learning", decisions, differ)
}

func which(d, learning *Decision) string {
	if d == learning {
		return "learning"
	}
	return "static"
}

func cloneReq(r *Request) *Request {
	c := *r
	return &c
}

// capLedger answers caps the same way for both engines: an offer is
// capped for a customer by a hash of the seed, the offer and the
// customer.
type capLedger struct{ seed uint64 }

func (l capLedger) capped(offer, customer string) bool {
	return Bucket(strconv.FormatUint(l.seed, 10)+offer, customer)%4 == 0
}

func (l capLedger) Reserve(_ context.Context, p *Plan) ([]Result, error) {
	return p.Walk(func(i int) Result {
		it := &p.Items[i]
		if l.capped(it.OfferID, p.CustomerID) {
			return it.firstCap()
		}
		return Granted
	}), nil
}

// randomLearningRules writes a random ruleset that learns.
func randomLearningRules(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString("segments:\n")
	conds := []string{"profile.ltv >= 1000", "profile.orders >= 2", `profile.tier == "gold"`, "cart.total >= 80", `ctx.channel == "app"`, "profile.orders == 0"}
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n    when: '%s'\n", i, conds[r.IntN(len(conds))])
	}
	b.WriteString("offers:\n")
	n := 3 + r.IntN(7)
	scores := []string{"", "propensity * (cart.total * 0.35 - discount)", "propensity * (cart.total * 0.35 - discount)",
		"propensity * priority", "propensity * priority", "priority * (1 - propensity) + discount", "priority"}
	var fallback []string
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - id: o%d\n", i)
		if r.IntN(3) > 0 {
			switch r.IntN(3) {
			case 0:
				fmt.Fprintf(&b, "    discount: {percent: %d}\n", 5+r.IntN(40))
			case 1:
				fmt.Fprintf(&b, "    discount: {amount: %d}\n", 1+r.IntN(60))
			default:
				fmt.Fprintf(&b, "    discount: {percent: %d, max_amount: %d}\n", 10+r.IntN(30), 5+r.IntN(20))
			}
		} else {
			b.WriteString("    kind: action\n")
		}
		fmt.Fprintf(&b, "    priority: %d\n", r.IntN(100))
		if s := scores[r.IntN(len(scores))]; s != "" {
			fmt.Fprintf(&b, "    score: %s\n", s)
		}
		if g := r.IntN(4); g < 3 {
			fmt.Fprintf(&b, "    group: g%d\n", g)
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "    segments: [s%d]\n", r.IntN(4))
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "    exclude_segments: [s%d]\n", r.IntN(4))
		}
		if r.IntN(4) == 0 {
			b.WriteString("    placements: [checkout]\n")
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "    when: cart.total >= %d\n", r.IntN(150))
		}
		if r.IntN(5) == 0 {
			b.WriteString("    schedule: {hours: \"00:00-11:59\"}\n")
		}
		switch r.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "    caps: {total: %d}\n", 1+r.IntN(5))
		case 1:
			fmt.Fprintf(&b, "    caps: {per_customer: {limit: 1}, budget: %d}\n", 10+r.IntN(100))
		}
		if r.IntN(8) == 0 {
			fallback = append(fallback, fmt.Sprintf("o%d", i))
		}
	}
	b.WriteString("experiments:\n")
	for x := 0; x < 2; x++ {
		fmt.Fprintf(&b, "  - id: x%d\n    traffic: %d\n    variants:\n", x, 50+r.IntN(51))
		fmt.Fprintf(&b, "      - {id: a, weight: 50, learning: %v}\n", r.IntN(2) == 0)
		fmt.Fprintf(&b, "      - id: b\n        weight: 50\n        offers:\n")
		o := r.IntN(n)
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "          o%d: {disabled: true}\n", o)
		} else {
			fmt.Fprintf(&b, "          o%d: {priority: %d, score: propensity * 100}\n", o, r.IntN(100))
		}
	}
	fmt.Fprintf(&b, "arbitration:\n  max_actions: %d\n  max_discount_percent: %d\n  holdout: %d\n", 1+r.IntN(3), 5+r.IntN(96), r.IntN(20))
	if len(fallback) > 0 {
		fmt.Fprintf(&b, "  fallback: [%s]\n", strings.Join(fallback, ", "))
	}
	fmt.Fprintf(&b, "  learning:\n    method: thompson\n    by: [s%d, s%d]\n    prior: {alpha: %d, beta: %d}\n", r.IntN(2), 2+r.IntN(2), 1+r.IntN(3), 1+r.IntN(30))
	return b.String()
}

func randomLearningRequest(r *rand.Rand, rs *rules.Ruleset, i int) (*Profile, *Request) {
	id := "c-" + strconv.Itoa(r.IntN(400))
	if r.IntN(10) == 0 {
		id = ""
	}
	items := randomCart(r)
	req := &Request{DecisionID: "dcs_" + strconv.Itoa(i) + "_" + strconv.Itoa(r.IntN(1e6)), CustomerID: id,
		Placement: []string{"checkout", "cart"}[r.IntN(2)], Channel: []string{"web", "app"}[r.IntN(2)],
		Now: testNow.Add(-time.Duration(r.IntN(24*60)) * time.Minute), Explain: true, Limit: r.IntN(3),
		Cart: Cart{Currency: []string{"USD", "JPY"}[r.IntN(2)], Items: items}}
	p := profileOf(rs, id, map[string]any{"ltv": float64(r.IntN(3000)), "orders": r.IntN(4),
		"tier": []string{"basic", "gold"}[r.IntN(2)]})
	return p, req
}

// checkConstraints checks a decision against the rules it was made under
// and the ledger that answered its caps.
func checkConstraints(rs *rules.Ruleset, req *Request, d *Decision, led capLedger) string {
	limit := rs.Arbitration.MaxActions
	if req.Limit > 0 && req.Limit < limit {
		limit = req.Limit
	}
	if len(d.Actions) > limit {
		return fmt.Sprintf("%d actions, limit %d", len(d.Actions), limit)
	}
	if d.Holdout && len(d.Actions) > 0 {
		return "actions in the holdout"
	}
	var total int64
	for i := range req.Cart.Items {
		total += lineValue(&req.Cart.Items[i])
	}
	guard := guardrailOf(total, rs.Arbitration.MaxDiscountPercent)
	var sum int64
	groups := map[string]bool{}
	chosen := map[string]bool{}
	mainGranted := false
	for _, a := range d.Actions {
		o, _ := rs.Offer(a.OfferID)
		chosen[a.OfferID] = true
		if a.Discount != nil {
			sum += a.Discount.Amount.Minor
		}
		if g := effective(rs, d, o).Group; g != "" {
			if groups[g] {
				return "two actions of group " + g
			}
			groups[g] = true
		}
		if led.capped(a.OfferID, req.CustomerID) && effective(rs, d, o).Caps.Any() {
			return a.OfferID + " granted past its cap"
		}
		if !o.Fallback {
			mainGranted = true
		}
	}
	if sum > guard {
		return fmt.Sprintf("discounts %d past the guardrail %d", sum, guard)
	}
	for _, a := range d.Actions {
		if o, _ := rs.Offer(a.OfferID); o.Fallback && mainGranted {
			return "a fallback beside a main-pass grant"
		}
	}
	for _, oe := range d.Explain.Offers {
		if oe.Chosen != chosen[oe.ID] {
			return oe.ID + ": explain and actions disagree"
		}
		switch oe.Reason {
		case ReasonGroup:
			if !groups[effective(rs, d, mustOffer(rs, oe.ID)).Group] {
				return oe.ID + ": reason group, but no action of its group"
			}
		case ReasonLimit:
			if len(d.Actions) < limit && !(mustOffer(rs, oe.ID).Fallback && mainGranted) {
				return oe.ID + ": reason limit below the limit"
			}
		case ReasonCapTotal, ReasonCapPerCustomer, ReasonBudget:
			if req.CustomerID != "" && !led.capped(oe.ID, req.CustomerID) {
				return oe.ID + ": capped, but the ledger would grant it"
			}
		}
	}
	return ""
}

// effective is the offer a decision used: a variant's override when the
// customer is in one.
func effective(rs *rules.Ruleset, d *Decision, o *rules.Offer) *rules.Offer {
	for _, a := range d.Experiments {
		for _, x := range rs.Experiments {
			if x.ID != a.ID {
				continue
			}
			for _, v := range x.Variants {
				if v.ID == a.Variant {
					if ov, ok := v.Offers[o.Index]; ok {
						return ov
					}
				}
			}
		}
	}
	return o
}

func mustOffer(rs *rules.Ruleset, id string) *rules.Offer {
	o, _ := rs.Offer(id)
	return o
}

// preScore reasons are decided before arbitration: they must not move.
var preScore = []string{ReasonPlacement, ReasonSchedule, ReasonSegment, ReasonWhen, ReasonHoldout, ReasonExperiment, ReasonError}

// sameBeforeScores: everything a score cannot change is the same.
func sameBeforeScores(s, l *Decision) string {
	if !slices.Equal(s.Segments, l.Segments) || s.Holdout != l.Holdout || !slices.Equal(s.Experiments, l.Experiments) || s.Cell != l.Cell {
		return "segments, holdout, experiments or cell differ"
	}
	for i := range s.Explain.Offers {
		a, b := s.Explain.Offers[i], l.Explain.Offers[i]
		pa, pb := slices.Contains(preScore, a.Reason), slices.Contains(preScore, b.Reason)
		if pa != pb || (pa && a.Reason != b.Reason) {
			return fmt.Sprintf("%s: %q static, %q learning", a.ID, a.Reason, b.Reason)
		}
		if (a.Score == nil) != (b.Score == nil) {
			return a.ID + ": scored in one decision only"
		}
	}
	amounts := map[string]int64{}
	for _, a := range s.Actions {
		if a.Discount != nil {
			amounts[a.OfferID] = a.Discount.Amount.Minor
		}
	}
	for _, a := range l.Actions {
		if want, ok := amounts[a.OfferID]; ok && a.Discount.Amount.Minor != want {
			return a.OfferID + ": another discount amount"
		}
	}
	return ""
}
