package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/engine"
)

func randString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\x01", "<", "&", "é", "€", "\u2028", "\xff", "😀", "/"}
	n := r.IntN(8)
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, alphabet[r.IntN(len(alphabet))]...)
	}
	return string(b)
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return float64(r.IntN(200)) - 100
	case 2:
		return r.NormFloat64() * 1e-8
	case 3:
		return r.NormFloat64() * 1e22
	}
	return r.NormFloat64() * 100
}

func randDecision(r *rand.Rand) *engine.Decision {
	d := &engine.Decision{DecisionID: randString(r), Ruleset: randString(r), Holdout: r.IntN(2) == 0, TookUS: r.Int64N(1e6)}
	if r.IntN(2) == 0 {
		d.CustomerID = randString(r)
	}
	for i := r.IntN(3); i > 0; i-- {
		d.Segments = append(d.Segments, randString(r))
		d.Degraded = append(d.Degraded, randString(r))
		d.Experiments = append(d.Experiments, engine.Assignment{ID: randString(r), Variant: randString(r)})
	}
	for i := r.IntN(3); i > 0; i-- {
		a := engine.Action{OfferID: randString(r), Kind: randString(r), Title: randString(r), Message: randString(r), Score: randFloat(r)}
		if r.IntN(2) == 0 {
			exp := int8(r.IntN(4))
			a.Discount = &engine.DiscountResult{Type: randString(r), Amount: engine.Money{Minor: r.Int64N(1e9) - 5e8, Exp: exp},
				Currency: randString(r), FreeShipping: r.IntN(2) == 0}
			if r.IntN(2) == 0 {
				p := randFloat(r)
				a.Discount.Percent = &p
			}
			for j := r.IntN(3); j > 0; j-- {
				a.Discount.Items = append(a.Discount.Items, engine.ItemAmount{SKU: randString(r), Amount: engine.Money{Minor: r.Int64N(1e6), Exp: exp}})
			}
		}
		if r.IntN(2) == 0 {
			a.Payload = map[string]any{randString(r): randString(r), "n": randFloat(r), "b": true, "nil": nil,
				"list": []any{1.5, "x", false}, "obj": map[string]any{"k": randString(r)}}
		}
		d.Actions = append(d.Actions, a)
	}
	if r.IntN(3) == 0 {
		d.Explain = &engine.Explain{Segments: []engine.SegmentExplain{{ID: randString(r), Matched: true}}}
	}
	return d
}

// The append encoder writes what encoding/json writes for the same
// decision, except that nil lists are [].
func TestAppendDecisionMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		d := randDecision(r)
		got := appendDecision(nil, d)
		// encoding/json writes nil lists as null: normalise them first.
		norm := *d
		for _, p := range []*[]string{&norm.Segments, &norm.Degraded} {
			if *p == nil {
				*p = []string{}
			}
		}
		norm.Actions = append([]engine.Action{}, norm.Actions...)
		for j := range norm.Actions {
			if dr := norm.Actions[j].Discount; dr != nil && dr.Items == nil {
				c := *dr
				c.Items = []engine.ItemAmount{}
				norm.Actions[j].Discount = &c
			}
			if p := norm.Actions[j].Discount; p != nil && p.Percent != nil && (math.IsNaN(*p.Percent) || math.IsInf(*p.Percent, 0)) {
				t.Fatal("generator made a NaN")
			}
		}
		if norm.Experiments == nil {
			norm.Experiments = []engine.Assignment{}
		}
		want, err := json.Marshal(&norm)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %s", got)
		}
	}
}

// The decision event is written as json.Marshal writes d.Event(), byte
// for byte, with every currency exponent and times in and out of UTC.
func TestAppendDecisionEventMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("", -(3*3600 + 30*60))}
	for i := 0; i < 3000; i++ {
		d := randDecision(r)
		d.Placement, d.Channel, d.Currency = randString(r), randString(r), randString(r)
		d.CartTotal = engine.Money{Minor: r.Int64N(1e9), Exp: int8(r.IntN(4))}
		d.Now = time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
		got := appendDecisionEvent(nil, d)
		want, err := json.Marshal(d.Event())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestAppendDecisionNilLists(t *testing.T) {
	got := string(appendDecision(nil, &engine.Decision{DecisionID: "dcs_1", Ruleset: "v"}))
	want := `{"decision_id":"dcs_1","ruleset":"v","segments":[],"actions":[],"experiments":[],"holdout":false,"degraded":[],"took_us":0}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// FuzzDecide sends random bodies to POST /v1/decide (and /v1/outcomes):
// the answer is never a 500 and never a panic, and always JSON.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{decideBody, `{}`, `{"limit": 0}`, `{"cart": {"items": [{"price": -1}]}}`,
		`{"dry_run": true, "now": "x"}`, `[`, `{"context": {"a": [1, "b", true, null]}}`, "\xff", `{"outcomes": []}`,
		`{"decision_id": "d", "offer_id": "o", "type": "converted", "value": 1e308, "currency": "JPY"}`} {
		f.Add([]byte(s))
	}
	h := newHarness(f, true, nil)
	handler := h.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/decide", "/v1/outcomes"} {
			var ctx fasthttp.RequestCtx
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI(path)
			req.SetBody(body)
			ctx.Init(&req, nil, nil)
			handler(&ctx)
			if sc := ctx.Response.StatusCode(); sc >= 500 && sc != 503 {
				t.Fatalf("%s: %d for %q: %s", path, sc, body, ctx.Response.Body())
			}
			if !json.Valid(ctx.Response.Body()) {
				t.Fatalf("%s: not JSON: %s", path, ctx.Response.Body())
			}
		}
	})
}
