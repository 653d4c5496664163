package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

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
		a := engine.Assignment{ID: randString(r), Variant: randString(r)}
		if r.IntN(2) == 0 {
			a.Layer = randString(r)
		}
		d.Experiments = append(d.Experiments, a)
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
		if r.IntN(2) == 0 {
			a.Cell = randString(r)
		}
		d.Actions = append(d.Actions, a)
	}
	for i := r.IntN(3); i > 0; i-- {
		d.Learning = append(d.Learning, engine.LearningUse{OfferID: randString(r), Cell: randString(r), Alpha: randFloat(r),
			Beta: randFloat(r), Propensity: r.Float64(), Source: engine.PropensitySource(r.IntN(4))})
	}
	if r.IntN(3) == 0 {
		d.Explain = &engine.Explain{}
		for i := r.IntN(3); i > 0; i-- {
			d.Explain.Segments = append(d.Explain.Segments, engine.SegmentExplain{ID: randString(r), Matched: r.IntN(2) == 0, Error: randString(r)})
		}
		for i := r.IntN(4); i > 0; i-- {
			o := engine.OfferExplain{ID: randString(r), Chosen: r.IntN(2) == 0, Reason: randString(r), Detail: randString(r),
				Error: randString(r), Variant: randString(r)}
			if r.IntN(2) == 0 {
				sc := randFloat(r)
				o.Score = &sc
			}
			if r.IntN(2) == 0 {
				o.Learning = &engine.LearningUse{OfferID: o.ID, Cell: randString(r), Alpha: randFloat(r), Beta: randFloat(r),
					Propensity: r.Float64(), Source: engine.PropensitySource(r.IntN(4))}
			}
			d.Explain.Offers = append(d.Explain.Offers, o)
		}
	}
	return d
}

// The spec's shape of a decision response, with encoding/json's tags and
// nil lists made empty: the oracle the append encoder is checked against
// (strings, numbers and maps as encoding/json writes them).
type (
	refDecision struct {
		DecisionID  string          `json:"decision_id"`
		CustomerID  string          `json:"customer_id,omitempty"`
		Ruleset     string          `json:"ruleset"`
		Segments    []string        `json:"segments"`
		Actions     []refAction     `json:"actions"`
		Experiments []refAssignment `json:"experiments"`
		Holdout     bool            `json:"holdout"`
		Degraded    []string        `json:"degraded"`
		TookUS      int64           `json:"took_us"`
		Explain     *refExplain     `json:"explain,omitempty"`
	}
	refAction struct {
		OfferID  string         `json:"offer_id"`
		Kind     string         `json:"kind"`
		Title    string         `json:"title,omitempty"`
		Message  string         `json:"message,omitempty"`
		Score    float64        `json:"score"`
		Discount *refDiscount   `json:"discount,omitempty"`
		Payload  map[string]any `json:"payload,omitempty"`
	}
	refDiscount struct {
		Type         string          `json:"type"`
		Percent      *float64        `json:"percent,omitempty"`
		Amount       engine.Money    `json:"amount"`
		Currency     string          `json:"currency"`
		FreeShipping bool            `json:"free_shipping"`
		Items        []refItemAmount `json:"items"`
	}
	refItemAmount struct {
		SKU    string       `json:"sku"`
		Amount engine.Money `json:"amount"`
	}
	refAssignment struct {
		ID      string `json:"id"`
		Variant string `json:"variant"`
		Layer   string `json:"layer,omitempty"`
	}
	refExplain struct {
		Segments []refSegmentExplain `json:"segments"`
		Offers   []refOfferExplain   `json:"offers"`
	}
	refSegmentExplain struct {
		ID      string `json:"id"`
		Matched bool   `json:"matched"`
		Error   string `json:"error,omitempty"`
	}
	refOfferExplain struct {
		ID       string       `json:"id"`
		Chosen   bool         `json:"chosen"`
		Reason   string       `json:"reason,omitempty"`
		Detail   string       `json:"detail,omitempty"`
		Score    *float64     `json:"score,omitempty"`
		Error    string       `json:"error,omitempty"`
		Variant  string       `json:"variant,omitempty"`
		Learning *refLearning `json:"learning,omitempty"`
	}
	refLearning struct {
		Cell       string  `json:"cell"`
		Alpha      float64 `json:"alpha"`
		Beta       float64 `json:"beta"`
		Propensity float64 `json:"propensity"`
		Source     string  `json:"source"`
	}
)

func refOf(d *engine.Decision) *refDecision {
	nonNil := func(ss []string) []string {
		return append([]string{}, ss...)
	}
	ref := &refDecision{DecisionID: d.DecisionID, CustomerID: d.CustomerID, Ruleset: d.Ruleset, Segments: nonNil(d.Segments),
		Actions: []refAction{}, Experiments: []refAssignment{}, Holdout: d.Holdout, Degraded: nonNil(d.Degraded), TookUS: d.TookUS}
	for _, a := range d.Actions {
		ra := refAction{OfferID: a.OfferID, Kind: a.Kind, Title: a.Title, Message: a.Message, Score: a.Score, Payload: a.Payload}
		if dr := a.Discount; dr != nil {
			ra.Discount = &refDiscount{Type: dr.Type, Percent: dr.Percent, Amount: dr.Amount, Currency: dr.Currency,
				FreeShipping: dr.FreeShipping, Items: []refItemAmount{}}
			for _, it := range dr.Items {
				ra.Discount.Items = append(ra.Discount.Items, refItemAmount(it))
			}
		}
		ref.Actions = append(ref.Actions, ra)
	}
	for _, x := range d.Experiments {
		ref.Experiments = append(ref.Experiments, refAssignment(x))
	}
	if ex := d.Explain; ex != nil {
		ref.Explain = &refExplain{Segments: []refSegmentExplain{}, Offers: []refOfferExplain{}}
		for _, sg := range ex.Segments {
			ref.Explain.Segments = append(ref.Explain.Segments, refSegmentExplain(sg))
		}
		for _, o := range ex.Offers {
			ro := refOfferExplain{ID: o.ID, Chosen: o.Chosen, Reason: o.Reason, Detail: o.Detail, Score: o.Score, Error: o.Error, Variant: o.Variant}
			if u := o.Learning; u != nil {
				ro.Learning = &refLearning{Cell: u.Cell, Alpha: u.Alpha, Beta: u.Beta, Propensity: u.Propensity, Source: u.Source.String()}
			}
			ref.Explain.Offers = append(ref.Explain.Offers, ro)
		}
	}
	return ref
}

// The append encoder writes the spec's shape as encoding/json would write
// it, with nil lists as [].
func TestAppendDecisionMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		d := randDecision(r)
		got := AppendDecision(nil, d)
		for _, a := range d.Actions {
			if p := a.Discount; p != nil && p.Percent != nil && (math.IsNaN(*p.Percent) || math.IsInf(*p.Percent, 0)) {
				t.Fatal("generator made a NaN")
			}
		}
		want, err := json.Marshal(refOf(d))
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

func TestAppendDecisionNilLists(t *testing.T) {
	got := string(AppendDecision(nil, &engine.Decision{DecisionID: "dcs_1", Ruleset: "v"}))
	want := `{"decision_id":"dcs_1","ruleset":"v","segments":[],"actions":[],"experiments":[],"holdout":false,"degraded":[],"took_us":0}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// specDecision is the spec's example response: one discount with a
// payload, an experiment.
func specDecision() *engine.Decision {
	pct := 10.0
	return &engine.Decision{
		DecisionID: "dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", CustomerID: "c-1042", Ruleset: "v1",
		Segments: []string{"vip"},
		Actions: []engine.Action{{OfferID: "vip_10", Kind: "discount", Title: "VIP 10% off", Score: 80,
			Discount: &engine.DiscountResult{Type: "percent", Percent: &pct, Amount: engine.Money{Minor: 1250, Exp: 2},
				Currency: "USD", Items: []engine.ItemAmount{{SKU: "SHOE-1", Amount: engine.Money{Minor: 1250, Exp: 2}}}},
			Payload: map[string]any{"badge": "vip"}}},
		Experiments: []engine.Assignment{{ID: "depth", Variant: "control"}},
		Degraded:    []string{},
		Placement:   "checkout", Channel: "web", Currency: "USD", CartTotal: engine.Money{Minor: 12050, Exp: 2},
		Now: time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC),
	}
}

// BenchmarkAppendDecision is the response encoder alone.
func BenchmarkAppendDecision(b *testing.B) {
	d := specDecision()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDecision(buf[:0], d)
	}
}

// FuzzAppendString: every string is written as encoding/json writes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "<a>&", "tab\tnl\nnul\x00", "é\u2028\u2029", "\xff\xfe", "12 €"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json: %s", s, got, want)
		}
	})
}

// BenchmarkAppendString: the strings of a decision event (ids, names,
// messages), against encoding/json.
func BenchmarkAppendString(b *testing.B) {
	ss := []string{"01JDQ2V6W8X9Y0Z1A2B3C4D5E6", "free_shipping_75", "Free shipping on orders over $75",
		"checkout", "Spend $100, save $15 on your next order", "web", "c-000123", "USD"}
	n := 0
	for _, s := range ss {
		n += len(s)
	}
	b.Run("append", func(b *testing.B) {
		b.SetBytes(int64(n))
		buf := make([]byte, 0, 1024)
		for i := 0; i < b.N; i++ {
			buf = buf[:0]
			for _, s := range ss {
				buf = appendString(buf, s)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(n))
		for i := 0; i < b.N; i++ {
			for _, s := range ss {
				if _, err := json.Marshal(s); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestAppendAnyAsEncodingJSON: appendAny writes every value a payload, a
// request's context or a profile can hold as encoding/json does; a
// payload's YAML time keeps its offset as written.
func TestAppendAnyAsEncodingJSON(t *testing.T) {
	paris := time.FixedZone("", 3600)
	for _, v := range []any{
		nil, "a\"b", true, 12.5, 1e-9, 42, int64(-7),
		[]any{1.0, "x", nil, []any{}},
		[]string{"x", "y"}, []float64{0.5, 1e21},
		map[string]any{"b": 1.0, "a": map[string]any{"z": []any{true}}},
		time.Date(2026, 12, 24, 18, 0, 0, 0, paris),
		time.Date(2026, 12, 24, 17, 0, 0, 5, time.UTC),
		[]int{1, 2}, // through encoding/json
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendAny(nil, v); !bytes.Equal(got, want) {
			t.Errorf("%T %v: got %s, want %s", v, v, got, want)
		}
	}
}
