// Package ruletest runs the rule tests written beside the rules (the
// tests: lists of *_test.yaml files): every case is a dry-run decision for
// a given profile, request and time, checked against what the case
// expects. It is what `arbiter rules test` runs.
package ruletest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// DecisionID is the decision id of every test decision.
const DecisionID = "dcs_test"

// Result is the outcome of one test case.
type Result struct {
	Case rules.TestCase
	// Pass is true when the decision was made and matched every
	// expectation.
	Pass bool
	// Err is set when the case could not run: a bad profile or request,
	// a missing now, or the engine failing. Pass is then false.
	Err error
	// Mismatches lists every expectation the decision did not meet.
	Mismatches []Mismatch
	// Decision is what came, with its explanation (nil when Err is set).
	Decision *engine.Decision
}

// Mismatch is one expectation not met: what was checked, what the case
// expected and what came, in the words of the test file.
type Mismatch struct {
	What     string `json:"what"` // segments, not_segments, actions, discount_total, experiments, holdout
	Expected string `json:"expected"`
	Got      string `json:"got"`
}

// ErrPlace is where in its test file the value that err (a Result's Err)
// is about is written: a request's field (a *wire.Error's Field) or a
// profile's (profiles.FieldErrors), else the case's own place.
func ErrPlace(tc rules.TestCase, err error) rules.Pos {
	var we *wire.Error
	var fes profiles.FieldErrors
	switch {
	case errors.As(err, &we) && we.Field != "":
		return tc.Place("request." + we.Field)
	case errors.As(err, &fes) && len(fes) > 0:
		return tc.Place("profile." + fes[0].Field)
	}
	return tc.Pos
}

// Name returns "file:line: name" for the case.
func (r *Result) Name() string {
	return r.Case.Pos.File + ":" + strconv.Itoa(r.Case.Pos.Line) + ": " + r.Case.Name
}

// Run runs every test case of rs with eng, in the order written. eng should
// have a ledger (memledger.New()) so that capped offers are
// checked as they would be in production: every test is a dry run, so
// nothing is consumed and the cases do not affect each other.
func Run(ctx context.Context, rs *rules.Ruleset, eng *engine.Engine) []Result {
	return RunCases(ctx, rs, eng, rs.Tests)
}

// DefaultNow is the decision time of a case that names none (no `now:` in
// the case, its request or its file): a fixed instant, so that a test
// gives the same result on every run.
var DefaultNow = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// RunCases is Run on a chosen subset of the cases (arbiter rules test
// --run).
func RunCases(ctx context.Context, rs *rules.Ruleset, eng *engine.Engine, cases []rules.TestCase) []Result {
	out := make([]Result, 0, len(cases))
	for _, tc := range cases {
		out = append(out, runCase(ctx, rs, eng, tc))
	}
	return out
}

func runCase(ctx context.Context, rs *rules.Ruleset, eng *engine.Engine, tc rules.TestCase) (res Result) {
	res.Case = tc
	defer func() {
		if r := recover(); r != nil {
			res.Pass, res.Decision = false, nil
			res.Err = fmt.Errorf("the engine failed on this case (a bug in Arbiter, please report it): %v", r)
		}
	}()
	req, p, err := Prepare(rs, tc.Profile, tc.Request)
	if err != nil {
		res.Err = err
		return res
	}
	if !tc.Now.IsZero() {
		req.Now = tc.Now
	}
	if req.Now.IsZero() {
		req.Now = DefaultNow
	}
	d, err := eng.Decide(ctx, rs, p, req)
	if err != nil {
		res.Err = fmt.Errorf("decide: %w", err)
		return res
	}
	if d == nil {
		res.Err = errors.New("decide: no decision")
		return res
	}
	res.Decision = d
	res.Mismatches = Compare(tc.Expect, d, req.Cart.Currency)
	res.Pass = len(res.Mismatches) == 0
	return res
}

// Prepare turns a test's (or `arbiter decide`'s) profile and request, in
// their JSON forms, into what the engine takes: a dry-run request with
// explain on and the decision id DecisionID, and the profile. A nil
// profile is an anonymous customer (unknown, with the request's
// customer_id if any). The customer id is the request's customer_id, else
// the profile's id; when both are given they must be the same. Request.Now
// is the request's "now" if it has one, else zero for the caller to set.
func Prepare(rs *rules.Ruleset, profile, request map[string]any) (*engine.Request, *engine.Profile, error) {
	body := []byte("{}")
	if request != nil {
		b, err := json.Marshal(jsonable(request))
		if err != nil {
			return nil, nil, fmt.Errorf("request: %w", err)
		}
		body = b
	}
	return PrepareJSON(rs, profile, body)
}

// PrepareJSON is Prepare with the request as a /v1/decide body (nil or
// empty: {}). A request error is "request: " and the *wire.Error
// (errors.As finds it).
func PrepareJSON(rs *rules.Ruleset, profile map[string]any, body []byte) (*engine.Request, *engine.Profile, error) {
	if len(body) == 0 {
		body = []byte("{}")
	}
	req, err := wire.DecodeDecideDryRun(body, rs.Arbitration.MaxActions)
	if err != nil {
		return nil, nil, fmt.Errorf("request: %w", err)
	}
	req.DecisionID = DecisionID
	req.Explain = true
	req.DryRun = true

	// A dry run's inline "profile", as the server reads it: the customer,
	// when the case (or --profile) gives none.
	if req.InlineProfile != nil {
		if profile != nil {
			return nil, nil, errors.New("request: profile: give the customer's profile once: in the case's `profile` (arbiter decide: --profile), or in the request, not in both")
		}
		dec := json.NewDecoder(bytes.NewReader(req.InlineProfile))
		dec.UseNumber()
		if err := dec.Decode(&profile); err != nil || profile == nil {
			return nil, nil, fmt.Errorf("request: profile: must be a JSON object of the profile's fields")
		}
		if extra := profiles.Unknown(&rs.Schema, profile); len(extra) > 0 {
			return nil, nil, fmt.Errorf("request: profile.%s: %s", extra[0].Field, extra[0].Msg)
		}
	}

	var p *engine.Profile
	if profile == nil {
		p = engine.DefaultProfile(&rs.Schema, req.CustomerID)
	} else {
		if _, has := profile["id"]; !has && req.CustomerID != "" {
			profile = maps.Clone(profile)
			profile["id"] = req.CustomerID
		}
		p, err = profiles.FromJSON(&rs.Schema, profile)
		if err != nil {
			return nil, nil, fmt.Errorf("profile: %w", err)
		}
		switch {
		case req.CustomerID == "":
			req.CustomerID = p.ID
		case req.CustomerID != p.ID:
			return nil, nil, fmt.Errorf("request customer_id %q is not the profile's id %q: give the id once, in the profile", req.CustomerID, p.ID)
		}
	}
	return req, p, nil
}

// jsonable makes a YAML-decoded value marshalable: maps with non-string
// keys get string keys.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = jsonable(e)
		}
		return s
	}
	return v
}

// Compare checks a decision against a case's expectations. currency is the
// request's cart currency (the unit of discount_total; 2 decimals without
// a cart).
func Compare(exp rules.Expect, d *engine.Decision, currency string) []Mismatch {
	var ms []Mismatch
	if exp.Segments != nil {
		var missing []string
		for _, s := range exp.Segments {
			if !slices.Contains(d.Segments, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			ms = append(ms, Mismatch{What: "segments", Expected: list(exp.Segments) + " to match (missing " + list(missing) + ")", Got: list(d.Segments)})
		}
	}
	if exp.NotSegments != nil {
		var present []string
		for _, s := range exp.NotSegments {
			if slices.Contains(d.Segments, s) {
				present = append(present, s)
			}
		}
		if len(present) > 0 {
			ms = append(ms, Mismatch{What: "not_segments", Expected: list(exp.NotSegments) + " not to match", Got: list(d.Segments) + " (" + list(present) + " matched)"})
		}
	}
	got := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		got[i] = a.OfferID
	}
	if exp.Actions != nil && !slices.Equal(exp.Actions, got) {
		ms = append(ms, Mismatch{What: "actions", Expected: list(exp.Actions), Got: list(got)})
	}
	if exp.DiscountTotal != nil {
		cur := d.Currency
		if cur == "" {
			cur = currency
		}
		e, ok := engine.CurrencyExp(cur)
		if !ok {
			e = 2
		}
		want, ok := engine.ToMinor(*exp.DiscountTotal, e)
		// A number with more decimals than the currency has is no amount
		// of it: never equal, rather than rounded to it (12.001 is not
		// 12.00 USD). The minor units read back as the same float exactly
		// when they are what was written.
		ok = ok && (engine.Money{Minor: want, Exp: e}).Major() == *exp.DiscountTotal
		var sum int64
		for _, a := range d.Actions {
			if a.Discount != nil {
				sum += a.Discount.Amount.Minor
			}
		}
		if !ok || want != sum {
			wantS := strconv.FormatFloat(*exp.DiscountTotal, 'f', -1, 64)
			if ok {
				wantS = engine.Money{Minor: want, Exp: e}.String()
			}
			ms = append(ms, Mismatch{What: "discount_total", Expected: strings.TrimSpace(wantS + " " + cur), Got: strings.TrimSpace(engine.Money{Minor: sum, Exp: e}.String() + " " + cur)})
		}
	}
	if exp.Experiments != nil {
		gotX := make(map[string]string, len(d.Experiments))
		for _, a := range d.Experiments {
			gotX[a.ID] = a.Variant
		}
		// Exactly these enrolments; a variant written as "" means "not
		// enrolled in this one".
		want := make(map[string]string, len(exp.Experiments))
		for k, v := range exp.Experiments {
			if v != "" {
				want[k] = v
			}
		}
		if !maps.Equal(want, gotX) {
			ms = append(ms, Mismatch{What: "experiments", Expected: assignments(exp.Experiments), Got: assignments(gotX)})
		}
	}
	if exp.Holdout != nil && *exp.Holdout != d.Holdout {
		ms = append(ms, Mismatch{What: "holdout", Expected: strconv.FormatBool(*exp.Holdout), Got: strconv.FormatBool(d.Holdout)})
	}
	return ms
}

func list(s []string) string { return "[" + strings.Join(s, ", ") + "]" }

func assignments(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if v == "" {
			v = `""`
		}
		parts[i] = k + ": " + v
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Explanation renders a decision's explanation compactly, one line per
// part: the segments matched and not, then every offer with what happened
// to it (chosen with its score, or the first reason it was not).
func Explanation(d *engine.Decision) []string {
	if d == nil {
		return nil
	}
	var lines []string
	line := "segments matched: " + list(d.Segments)
	if d.Holdout {
		line += "; in the holdout"
	}
	if len(d.Experiments) > 0 {
		parts := make([]string, len(d.Experiments))
		for i, a := range d.Experiments {
			parts[i] = a.ID + "=" + a.Variant
		}
		line += "; experiments " + strings.Join(parts, ", ")
	}
	if len(d.Degraded) > 0 {
		line += "; degraded " + list(d.Degraded)
	}
	lines = append(lines, line)
	if d.Explain == nil {
		return lines
	}
	var not []string
	for _, s := range d.Explain.Segments {
		switch {
		case s.Error != "":
			lines = append(lines, "segment "+s.ID+": error: "+s.Error)
		case !s.Matched:
			not = append(not, s.ID)
		}
	}
	if len(not) > 0 {
		lines = append(lines, "segments not matched: "+list(not))
	}
	for _, o := range d.Explain.Offers {
		var b strings.Builder
		b.WriteString("offer ")
		b.WriteString(o.ID)
		if o.Chosen {
			b.WriteString(": chosen")
		} else {
			b.WriteString(": not chosen: ")
			b.WriteString(o.Reason)
		}
		if o.Detail != "" {
			b.WriteString(" (" + o.Detail + ")")
		}
		if o.Error != "" {
			b.WriteString(" error: " + o.Error)
		}
		if o.Score != nil {
			b.WriteString(", score " + strconv.FormatFloat(*o.Score, 'g', -1, 64))
		}
		if o.Variant != "" {
			b.WriteString(", variant " + o.Variant)
		}
		lines = append(lines, b.String())
	}
	return lines
}

// NewEngine returns the engine rule tests and offline decisions run on: an
// in-memory ledger, so that capped offers are checked (never consumed:
// every test is a dry run).
func NewEngine() *engine.Engine {
	return engine.New(engine.Options{Ledger: memledger.New()})
}
