package engine

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/rules"
)

// The compiler rewrites member reads and `"id" in segments` into flat
// names (exprenv/flat.go) that exprenv.Env fills from the engine's input.
// Every shape must decide as the plain expression does on the nested
// environment of exprenv/env.go: this test evaluates each segment both
// ways.
func TestFlatNamesDecideAsThePlainExpressions(t *testing.T) {
	whens := []string{
		`profile.ltv >= 100`,
		`profile["ltv"] >= 100 && profile.orders > 1`,
		`profile?.ltv > 1`,
		`profile.id == "c-1" && profile.known`,
		`profile.tier in ["gold", "silver"]`,
		`"first" in profile.tags`,
		`profile.first_name startsWith "A"`,
		`ctx.device == "mobile"`,
		`ctx["device"] == "mobile"`,
		`ctx.missing == nil`,
		`ctx.nested.k == 1`,
		`ctx.placement == "checkout" && ctx.channel == "web"`,
		`cart.total > 10 && cart.item_count >= 2`,
		`any(cart.items, .category == "shoes")`,
		`len(cart.items) == 2`,
		`"s00" in segments`,
		`"s00" not in segments`,
		`!("s01" in segments) || "s00" in segments`,
		`len(segments) >= 2`,
		`"s03" in segments && len(segments) > 0`,
		`let k = "device"; ctx[k] == "mobile"`,
		`let k = "id"; profile[k] == "c-9"`,
		`let k = "ltv"; profile[k] >= 100 && $env.profile.tier == "gold"`,
		`profile.id == "c-9" && !profile.known`,
		`$env.profile.id == "c-9"`,
		`"s00" in $env.segments`,
	}
	var b strings.Builder
	b.WriteString("segments:\n")
	for i, w := range whens {
		fmt.Fprintf(&b, "  - id: s%02d\n    when: %q\n", i, w)
	}
	b.WriteString("offers:\n  - id: o\n    placements: [checkout]\n    when: '\"s00\" in segments and \"s05\" not in segments'\n")
	rs := load(t, map[string]string{"rules.yaml": b.String()})
	if len(rs.Env.Flat()) == 0 {
		t.Fatal("no flat names: the rewrite did not happen")
	}
	if !rs.Env.ReadsSegments() {
		t.Error("len(segments) reads the list: ReadsSegments should be true")
	}
	if !rs.Env.ReadsProfile() {
		t.Error("profile[k] reads the profile as a map: ReadsProfile should be true")
	}

	profiles := []map[string]any{
		{"ltv": 150.0, "orders": 2, "tier": "gold", "first_name": "Ada", "tags": []string{"first"}},
		{"ltv": 50.0, "orders": 0, "tier": "basic", "first_name": "Bo", "tags": []string{}},
		nil, // anonymous
		{},  // an unknown id, with the schema's shared defaults (id "")
	}
	ctxs := []map[string]any{
		{"device": "mobile", "nested": map[string]any{"k": 1.0}},
		{"device": "desktop"},
		{},
	}
	eng := New(Options{})
	for pi, attrs := range profiles {
		for ci, c := range ctxs {
			id := ""
			if attrs != nil {
				id = "c-1"
			}
			p := profileOf(rs, id, attrs)
			if attrs != nil && len(attrs) == 0 {
				id = "c-9"
				p = &Profile{ID: id, Attrs: rs.Schema.Defaults()}
			}
			req := Request{CustomerID: id, Placement: "checkout", Channel: "web", Context: c, Now: testNow, DryRun: true,
				Cart: cart("USD", "A", "shoes", 20.0, 1, "B", "socks", 5.0, 2)}
			want, wantOffer := plainSegments(t, rs, p, &req)
			// A stored profile comes as Values in the schema's order
			// (profiles.FromHash): read by position, and as a map by the
			// programs that read profile whole.
			forms := []*Profile{p}
			if p.Known {
				forms = append(forms, valuesOf(rs, p))
			}
			for fi, p := range forms {
				d, err := eng.Decide(context.Background(), rs, p, &req)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(d.Segments, ","); got != want {
					t.Errorf("profile %d (form %d), ctx %d: segments\n got %s\nwant %s", pi, fi, ci, got, want)
				}
				if got := actionIDs(d) == "o"; got != wantOffer {
					t.Errorf("profile %d (form %d), ctx %d: offer o chosen %v, want %v", pi, fi, ci, got, wantOffer)
				}
			}
		}
	}
}

// valuesOf is p in the form profiles.FromHash gives a stored profile:
// its fields' values in the order of rs's schema, no map.
func valuesOf(rs *rules.Ruleset, p *Profile) *Profile {
	q := &Profile{ID: p.ID, Known: p.Known, Fields: rs.Schema.Fields, Values: make([]any, len(rs.Schema.Fields))}
	for i, f := range rs.Schema.Fields {
		q.Values[i] = p.Attrs[f.Name]
	}
	return q
}

// plainSegments evaluates the ruleset's segments with expr on the nested
// environment, without the flat rewrite.
func plainSegments(t *testing.T, rs *rules.Ruleset, p *Profile, req *Request) (string, bool) {
	t.Helper()
	var items []any
	total := 0.0
	count := 0
	for _, it := range req.Cart.Items {
		price := Money{Minor: it.Price, Exp: 2}.Major()
		items = append(items, map[string]any{"sku": it.SKU, "category": it.Category, "price": price, "quantity": it.Quantity, "tags": it.Tags})
		total += price * float64(it.Quantity)
		count += it.Quantity
	}
	ctx := map[string]any{"placement": req.Placement, "channel": req.Channel}
	for k, v := range req.Context {
		ctx[k] = v
	}
	attrs := maps.Clone(p.Attrs)
	attrs["id"], attrs["known"] = p.ID, p.Known
	env := map[string]any{
		exprenv.EnvProfile: attrs,
		exprenv.EnvCart:    map[string]any{"total": total, "currency": req.Cart.Currency, "item_count": count, "items": items},
		exprenv.EnvCtx:     ctx,
		exprenv.EnvNow:     req.Now,
	}
	var matched []string
	eval := func(src string) bool {
		env[exprenv.EnvSegments] = append([]string(nil), matched...)
		out, err := expr.Eval(src, env)
		return err == nil && out == true // an error: not matched, as in the engine
	}
	for _, s := range rs.Segments {
		if eval(s.When.Source) {
			matched = append(matched, s.ID)
		}
	}
	return strings.Join(matched, ","), eval(rs.Offers[0].When.Source)
}

// An items filter the fast path cannot answer runs on the VM, which sees
// the current cart line as `item`, whichever line first needed the VM.
func TestItemsFilterOnTheVM(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
offers:
  - id: a_lines
    placements: [checkout]
    discount: {percent: 10, items: 'item.sku startsWith "A" && len(item.tags) >= 0'}
  - id: fast_lines
    placements: [checkout]
    discount: {percent: 50, items: 'item.category == "socks"'}
arbitration:
  max_actions: 2
`})
	var fast, slow int
	for _, o := range rs.Offers {
		if o.Discount.Items.Fast() {
			fast++
		} else {
			slow++
		}
	}
	if fast != 1 || slow != 1 {
		t.Fatalf("want one fast and one VM filter, got %d and %d", fast, slow)
	}
	eng := New(Options{})
	req := Request{Placement: "checkout", Now: testNow, DryRun: true,
		Cart: cart("USD", "B1", "socks", 10.0, 1, "A1", "shoes", 20.0, 1, "A2", "socks", 30.0, 1)}
	d, err := eng.Decide(context.Background(), rs, profileOf(rs, "", nil), &req)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range d.Actions {
		got[a.OfferID] = a.Discount.Amount.String()
	}
	// a_lines: 10% of A1 + A2 = 5.00; fast_lines: 50% of B1 + A2 = 20.00
	if got["a_lines"] != "5.00" || got["fast_lines"] != "20.00" {
		t.Fatalf("discounts %v", got)
	}
}

// Every expression of the example ruleset has a fast form, so that a
// decision on it never needs the VM: an expr upgrade that changes the
// shapes of its syntax trees, or a compiler change that loses a shape,
// fails here rather than only in the benchmarks.
func TestExampleRulesetIsAllFast(t *testing.T) {
	rs := loadDir(t, "../examples/checkout")
	var slow []string
	cond := func(what string, e *rules.Expr) {
		if e != nil && !e.Fast() {
			slow = append(slow, what+": "+e.Source)
		}
	}
	num := func(what string, e *rules.Expr) {
		if e != nil && !e.Fast() {
			slow = append(slow, what+": "+e.Source)
		}
	}
	offer := func(o *rules.Offer) {
		cond("offer "+o.ID+" when", o.When)
		num("offer "+o.ID+" score", o.Score)
		if d := o.Discount; d != nil {
			cond("offer "+o.ID+" items", d.Items)
			num("offer "+o.ID+" percent", d.Percent.Expr)
			num("offer "+o.ID+" amount", d.Amount.Expr)
		}
	}
	for _, s := range rs.Segments {
		cond("segment "+s.ID, s.When)
	}
	for _, o := range rs.Offers {
		offer(o)
	}
	for _, x := range rs.Experiments {
		cond("experiment "+x.ID, x.When)
		for _, v := range x.Variants {
			for _, o := range v.Offers {
				if o != nil {
					offer(o)
				}
			}
		}
	}
	if len(slow) > 0 {
		t.Errorf("without a fast form:\n%s", strings.Join(slow, "\n"))
	}
}

// `$env` reads the whole environment: a ruleset whose only whole reads go
// through it must still see the customer's id and the matched segments.
func TestEnvReadsTheWholeProfileAndSegments(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
segments:
  - id: all
    when: "true"
  - id: by_id
    when: '$env.profile.id == "c-9"'
  - id: after_all
    when: '"all" in $env.segments'
`})
	if !rs.Env.ReadsSegments() || !rs.Env.ReadsProfile() {
		t.Fatalf("ReadsSegments %v, ReadsProfile %v: $env reads both", rs.Env.ReadsSegments(), rs.Env.ReadsProfile())
	}
	req := Request{Placement: "checkout", Now: testNow, DryRun: true, CustomerID: "c-9"}
	d, err := New(Options{}).Decide(context.Background(), rs, &Profile{ID: "c-9", Attrs: rs.Schema.Defaults()}, &req)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Segments, ","); got != "all,by_id,after_all" && got != "all,after_all,by_id" {
		t.Fatalf("segments %s", got)
	}
}

// A score the fast path cannot answer runs on the VM, which sees the
// offer's `priority`.
func TestScoreOnTheVM(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
offers:
  - id: o
    placements: [checkout]
    priority: 40
    score: 'priority + len(cart.items)'
`})
	if rs.Offers[0].Score.Fast() {
		t.Fatal("the score should need the VM (len)")
	}
	req := Request{Placement: "checkout", Now: testNow, DryRun: true, Cart: cart("USD", "A", "x", 1.0, 1, "B", "y", 2.0, 1)}
	d, err := New(Options{}).Decide(context.Background(), rs, profileOf(rs, "", nil), &req)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Actions) != 1 || d.Actions[0].Score != 42 {
		t.Fatalf("actions %+v, want o with score 42", d.Actions)
	}
}

// A time zone named by data that the database does not hold makes the
// rule not match, with the error in explain; the decision goes on.
func TestUnknownZoneFromDataIsARuleError(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": `
profile:
  tz: string
segments:
  - id: evening
    when: hourIn(profile.tz) >= 18 || weekdayIn(ctx.tz) == "sat"
  - id: everyone
    when: "true"
`})
	for _, tc := range []struct{ tz, segments, err string }{
		{"Asia/Tokyo", "evening,everyone", ""}, // 21:00 in Tokyo
		{"Mars/Olympus", "everyone", "rules.yaml:6:11: unknown time zone Mars/Olympus"},
	} {
		req := Request{CustomerID: "c-1", Placement: "checkout", Now: testNow, DryRun: true, Explain: true, Context: map[string]any{"tz": tc.tz}}
		d, err := New(Options{}).Decide(context.Background(), rs, profileOf(rs, "c-1", map[string]any{"tz": tc.tz}), &req)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.Segments, ","); got != tc.segments {
			t.Errorf("%s: segments %s, want %s", tc.tz, got, tc.segments)
		}
		if got := d.Explain.Segments[0].Error; got != tc.err {
			t.Errorf("%s: explain error %q, want %q", tc.tz, got, tc.err)
		}
	}
}
