package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
)

// GET /v1/rules shows each offer's schedule (days, hours, time zone),
// discount, when and exclusions, and why an inactive offer is inactive
// (issue 18).
func TestRulesViewShowsWhyAnOfferIsInactive(t *testing.T) {
	rs, err := rules.Compile([]rules.File{{Path: "rules.yaml", Data: []byte(`profile:
  ltv: number
segments:
  - id: staff
    when: profile.ltv < 0
offers:
  - id: weekend_evening
    title: "{{percent}}% off tonight"
    segments: []
    exclude_segments: [staff]
    when: cart.total >= 50
    discount: {percent: 10, max_amount: 20}
    schedule: {days: [sat, sun], hours: "18:00-23:59", timezone: Europe/Paris}
  - id: black_friday
    discount: {amount: 15}
    schedule: {start: 2026-11-27T00:00:00-05:00, end: 2026-11-30T00:00:00-05:00}
  - id: tiers
    discount: {tiers: [{min_total: 100, amount: 10}, {min_total: 200, percent: 10}]}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 11, 2, 20, 0, 0, 0, time.UTC) // 21:00 in Paris, a Monday
	v := View(&rulefiles.Snapshot{Ruleset: rs, LoadedAt: monday}, nil, monday)
	b, err := json.Marshal(v.Offers)
	if err != nil {
		t.Fatal(err)
	}
	var offers []map[string]any
	_ = json.Unmarshal(b, &offers)
	byID := map[string]map[string]any{}
	for _, o := range offers {
		byID[o["id"].(string)] = o
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	w := byID["weekend_evening"]
	for key, want := range map[string]string{
		"schedule":         `{"days":["sat","sun"],"hours":"18:00-23:59","timezone":"Europe/Paris"}`,
		"discount":         `{"type":"percent","percent":10,"max_amount":20}`,
		"when":             `"cart.total \u003e= 50"`,
		"exclude_segments": `["staff"]`,
		"active":           `false`,
		"inactive_reason":  `"not on Monday (days: sat, sun in Europe/Paris)"`,
	} {
		var wantV any
		_ = json.Unmarshal([]byte(want), &wantV)
		if got := js(w[key]); got != js(wantV) {
			t.Errorf("weekend_evening.%s = %s, want %s", key, got, want)
		}
	}
	bf := byID["black_friday"]
	if got := js(bf["inactive_reason"]); got != `"not started: starts 2026-11-27T00:00:00-05:00"` {
		t.Errorf("black_friday.inactive_reason = %s", got)
	}
	if got := js(bf["discount"]); got != `{"amount":15,"type":"amount"}` {
		t.Errorf("black_friday.discount = %s", got)
	}
	if got := js(byID["tiers"]["discount"]); !strings.Contains(got, `"tiers":[{"amount":10,"min_total":100},{"min_total":200,"percent":10}]`) {
		t.Errorf("tiers.discount = %s", got)
	}
	if got := js(byID["tiers"]["active"]); got != "true" || byID["tiers"]["inactive_reason"] != nil {
		t.Errorf("tiers: active %s, reason %v", got, byID["tiers"]["inactive_reason"])
	}
	// Saturday 19:00 in Paris: active; Saturday 10:00: outside the hours.
	sat := time.Date(2026, 11, 7, 18, 0, 0, 0, time.UTC)
	if o := View(&rulefiles.Snapshot{Ruleset: rs}, nil, sat).Offers; !offerByID(o, "weekend_evening").Active {
		t.Error("weekend_evening is not active on Saturday at 19:00 in Paris")
	}
	morning := time.Date(2026, 11, 7, 9, 0, 0, 0, time.UTC)
	if o := offerByID(View(&rulefiles.Snapshot{Ruleset: rs}, nil, morning).Offers, "weekend_evening"); o.Active ||
		o.InactiveReason != "outside its hours (18:00-23:59 in Europe/Paris; it is 10:00 there)" {
		t.Errorf("Saturday 10:00 in Paris: active %v, reason %q", o.Active, o.InactiveReason)
	}
}

func offerByID(os []OfferView, id string) OfferView {
	for _, o := range os {
		if o.ID == id {
			return o
		}
	}
	return OfferView{}
}
