package exprenv

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
)

// Env must evaluate every expression as plain expr does on the nested
// environment of env.go, whether the fast path answers or the VM runs the
// flattened program: segments in order (each sees those matched before
// it), item filters on every cart line and scores with their priority.
func TestEnvAgreesWithPlainExpr(t *testing.T) {
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
		`cart.total > 10 && cart.item_count >= 2 && cart.currency == "USD"`,
		`any(cart.items, .category == "shoes")`,
		`len(cart.items) == 2`,
		`"s00" in segments`,
		`"s00" not in segments`,
		`!("s01" in segments) || "s00" in segments`,
		`len(segments) >= 2`,
		`let k = "device"; ctx[k] == "mobile"`,
		`let k = "id"; profile[k] == "c-9"`,
		`$env.profile.id == "c-9"`,
		`"s00" in $env.segments`,
		`daysSince(profile.last) < 30 && hourIn("UTC") == 12`,
	}
	items := []string{`item.category == "socks"`, `item.sku startsWith "A" && len(item.tags) >= 0`}
	scores := []string{`priority * 2 + profile.ltv`, `priority + len(cart.items)`}

	var ids []string
	for i := range whens {
		ids = append(ids, fmt.Sprintf("s%02d", i))
	}
	fields := []Field{{"ltv", TypeNumber}, {"orders", TypeInt}, {"tier", TypeString}, {"first_name", TypeString},
		{"tags", TypeStringList}, {"last", TypeTime}}
	c := NewCompiler(Config{Profile: fields, Segments: ids})
	var segs, filters, nums []*Expr
	for _, src := range whens {
		segs = append(segs, mustCompile(t, c, KindCond, src))
	}
	for _, src := range items {
		filters = append(filters, mustCompile(t, c, KindItems, src))
	}
	for _, src := range scores {
		nums = append(nums, mustCompile(t, c, KindScore, src))
	}
	layout := c.Finish(ids)
	if !layout.ReadsSegments() || !layout.ReadsProfile() || len(layout.Flat()) == 0 {
		t.Fatalf("layout: segments %v, profile %v, %d flat names", layout.ReadsSegments(), layout.ReadsProfile(), len(layout.Flat()))
	}
	if filters[0].Fast() == filters[1].Fast() || nums[0].Fast() == nums[1].Fast() {
		t.Fatal("want one fast and one VM form of the filters and of the scores")
	}

	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	defaults := map[string]any{"id": "", "known": false, "ltv": 0.0, "orders": 0, "tier": "", "first_name": "", "tags": []string{}, "last": time.Time{}}
	known := func(attrs map[string]any) map[string]any {
		m := maps.Clone(defaults)
		maps.Copy(m, attrs)
		m["id"], m["known"] = "c-1", true
		return m
	}
	profiles := []struct {
		id    string
		known bool
		attrs map[string]any
	}{
		{"c-1", true, known(map[string]any{"ltv": 150.0, "orders": 2, "tier": "gold", "first_name": "Ada", "tags": []string{"first"}, "last": now.AddDate(0, 0, -3)})},
		{"c-1", true, known(map[string]any{"ltv": 50.0, "tier": "basic", "first_name": "Bo"})},
		{"", false, defaults},    // anonymous
		{"c-9", false, defaults}, // not stored: the shared defaults say id ""
	}
	ctxs := []map[string]any{{"device": "mobile", "nested": map[string]any{"k": 1.0}}, {"device": "desktop"}, {}}
	lines := []Item{{SKU: "A1", Category: "shoes", Price: 20, Quantity: 1}, {SKU: "B1", Category: "socks", Price: 5, Quantity: 2, Tags: []string{"sale"}}}

	var env Env
	for pi, p := range profiles {
		for ci, ctx := range ctxs {
			in := Input{Now: now, ProfileID: p.id, Known: p.known, Attrs: p.attrs, Total: 30, Currency: "USD", ItemCount: 3,
				Items: lines, Placement: "checkout", Channel: "web", Context: ctx}
			plain := plainEnv(&in)
			env.Begin(layout, &in)
			var matched []string
			for i, x := range segs {
				got, err := env.Cond(x)
				plain[EnvSegments] = append([]string(nil), matched...)
				want, werr := expr.Eval(x.Source, plain)
				if (err == nil) != (werr == nil) || err == nil && got != want {
					t.Errorf("profile %d, ctx %d: %s = %v, %v; plain expr: %v, %v", pi, ci, x.Source, got, err, want, werr)
				}
				if got {
					env.Match(i, ids[i])
					matched = append(matched, ids[i])
				}
			}
			if got := strings.Join(env.Segments(), ","); got != strings.Join(matched, ",") {
				t.Errorf("profile %d, ctx %d: segments %s, want %s", pi, ci, got, strings.Join(matched, ","))
			}
			for j := range lines {
				env.SetItem(j)
				plain[EnvItem] = map[string]any{"sku": lines[j].SKU, "category": lines[j].Category, "price": lines[j].Price,
					"quantity": lines[j].Quantity, "tags": lines[j].Tags}
				for _, x := range filters {
					got, err := env.Cond(x)
					want, werr := expr.Eval(x.Source, plain)
					if err != nil || werr != nil || got != want {
						t.Errorf("profile %d, ctx %d, line %d: %s = %v, %v; plain expr: %v, %v", pi, ci, j, x.Source, got, err, want, werr)
					}
				}
			}
			delete(plain, EnvItem)
			env.SetVar(VarPriority, 40)
			plain[EnvPriority] = 40.0
			for _, x := range nums {
				got, err := env.Number(x)
				want, werr := expr.Eval(x.Source, plain)
				if err != nil || werr != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("profile %d, ctx %d: %s = %v, %v; plain expr: %v, %v", pi, ci, x.Source, got, err, want, werr)
				}
			}
			env.End()
		}
	}
}

// plainEnv is the nested environment of env.go for in, as a reference.
func plainEnv(in *Input) map[string]any {
	items := make([]any, len(in.Items))
	for i, it := range in.Items {
		items[i] = map[string]any{"sku": it.SKU, "category": it.Category, "price": it.Price, "quantity": it.Quantity, "tags": it.Tags}
	}
	ctx := map[string]any{"placement": in.Placement, "channel": in.Channel}
	maps.Copy(ctx, in.Context)
	attrs := maps.Clone(in.Attrs)
	attrs["id"], attrs["known"] = in.ProfileID, in.Known
	return map[string]any{
		EnvProfile:  attrs,
		EnvCart:     map[string]any{"total": in.Total, "currency": in.Currency, "item_count": in.ItemCount, "items": items},
		EnvCtx:      ctx,
		EnvNow:      in.Now,
		"daysSince": func(t time.Time) float64 { return in.Now.Sub(t).Hours() / 24 },
		"hourIn":    func(tz string) int { loc, _ := time.LoadLocation(tz); return in.Now.In(loc).Hour() },
	}
}
