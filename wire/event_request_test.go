package wire

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// validString is a random string that DecodeDecide accepts where any
// text is allowed (sku, category, tags, context): escapes, HTML, non-ASCII.
func validString(r *rand.Rand, min int) string {
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "<", "&", "é", "€", "\u2028", "😀", "/"}
	n := min + r.IntN(8)
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, alphabet[r.IntN(len(alphabet))]...)
	}
	return string(b)
}

func validToken(r *rand.Rand) string {
	const alphabet = "abcXYZ019_-"
	b := make([]byte, 1+r.IntN(10))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// randRequest is a random valid request as DecodeDecide makes them (no
// time, id or dry run): every field of the body format, in every
// currency exponent.
func randRequest(r *rand.Rand) *engine.Request {
	req := &engine.Request{Placement: "default"}
	if r.IntN(2) == 0 {
		req.CustomerID = "c-" + validToken(r) + []string{"", "<&>", "é€", " \"x\\"}[r.IntN(4)]
	}
	if r.IntN(4) > 0 {
		req.Placement = validToken(r)
	}
	if r.IntN(2) == 0 {
		req.Channel = validToken(r)
	}
	if r.IntN(4) > 0 {
		req.Cart.Currency = []string{"USD", "JPY", "BHD", "EUR", "CLF"}[r.IntN(5)]
		for i := r.IntN(4); i > 0; i-- {
			it := engine.Item{SKU: "S" + validString(r, 0), Price: r.Int64N(1e9), Quantity: 1 + r.IntN(5)}
			if r.IntN(2) == 0 {
				it.Category = validString(r, 1)
			}
			for j := r.IntN(3); j > 0; j-- {
				it.Tags = append(it.Tags, validString(r, 0))
			}
			req.Cart.Items = append(req.Cart.Items, it)
		}
	}
	if r.IntN(3) > 0 {
		req.Context = map[string]any{}
		for i := r.IntN(4); i > 0; i-- {
			k := "k" + validString(r, 0)
			switch r.IntN(5) {
			case 0:
				req.Context[k] = validString(r, 0)
			case 1:
				req.Context[k] = randFloat(r)
			case 2:
				req.Context[k] = r.IntN(2) == 0
			case 3:
				req.Context[k] = []any{validString(r, 0), randFloat(r), true}
			default:
				req.Context[k] = []any{}
			}
		}
	}
	if r.IntN(2) == 0 {
		req.Limit = 1 + r.IntN(3)
	}
	req.Explain = r.IntN(4) == 0
	return req
}

// The request a decision event records is a POST /v1/decide body that
// DecodeDecide (the HTTP handler's decoder) reads back into the same
// request.
func TestAppendRequestDecodesBack(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 5000; i++ {
		want := randRequest(r)
		b := AppendRequest(nil, want)
		if !json.Valid(b) {
			t.Fatalf("case %d: not JSON: %s", i, b)
		}
		got, err := DecodeDecide(b, 3)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: read back\n%+v\nwant\n%+v\nfrom %s", i, got, want, b)
		}
	}
	// The spec's example, byte for byte.
	req := &engine.Request{CustomerID: "c-1042", Placement: "checkout", Channel: "web",
		Cart:    engine.Cart{Currency: "USD", Items: []engine.Item{{SKU: "SHOE-1", Category: "shoes", Price: 6025, Quantity: 2, Tags: []string{"sale"}}}},
		Context: map[string]any{"country": "US", "coupons": []any{"A<1>"}}, Limit: 2}
	want := `{"customer_id":"c-1042","placement":"checkout","channel":"web","cart":{"currency":"USD","items":[{"sku":"SHOE-1","category":"shoes","price":60.25,"quantity":2,"tags":["sale"]}]},` +
		`"context":{"country":"US","coupons":["A\u003c1\u003e"]},"limit":2}`
	if got := string(AppendRequest(nil, req)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// A decision that is not a dry run records its request and its time to
// the millisecond; a dry run records neither; the event is still
// encoding/json's bytes and reads back.
func TestDecisionEventRecordsRequest(t *testing.T) {
	d := specDecision()
	d.Now = time.Date(2026, 11, 22, 11, 0, 0, 123456789, time.FixedZone("", 3600))
	d.Request = &engine.Request{CustomerID: "c-1042", Placement: "checkout", Channel: "web",
		Cart: engine.Cart{Currency: "USD", Items: []engine.Item{{SKU: "SHOE-1", Price: 12050, Quantity: 1}}}, Now: d.Now}
	got := AppendDecisionEvent(nil, d)
	want, err := json.Marshal(NewDecisionEvent(d))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	tail := `,"now":"2026-11-22T10:00:00.123Z","request":{"customer_id":"c-1042","placement":"checkout","channel":"web","cart":{"currency":"USD","items":[{"sku":"SHOE-1","price":120.50,"quantity":1}]}}}`
	if !strings.HasSuffix(string(got), tail) {
		t.Fatalf("event %s\ndoes not end in %s", got, tail)
	}
	ev, err := ParseDecisionEvent(got)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Now.Equal(time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)) || ev.RequestTruncated {
		t.Fatalf("read back now %v, truncated %v", ev.Now, ev.RequestTruncated)
	}
	back, err := DecodeDecide(ev.Request, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := *d.Request
	wantReq.Now = time.Time{}
	if !reflect.DeepEqual(back, &wantReq) {
		t.Fatalf("request read back %+v, want %+v", back, &wantReq)
	}

	d.Request.DryRun = true
	dry := AppendDecisionEvent(nil, d)
	if strings.Contains(string(dry), `"request"`) || strings.Contains(string(dry), `"now"`) {
		t.Fatalf("a dry run's event records its request: %s", dry)
	}
	if want, _ := json.Marshal(NewDecisionEvent(d)); !bytes.Equal(dry, want) {
		t.Fatalf("dry run: got  %s\nwant %s", dry, want)
	}
}

// An event that would exceed the stream's message size loses its request
// and says so; the rest of it stays, and it is still a valid event. A
// message that fits, or one without a request, is left alone.
func TestMessageFit(t *testing.T) {
	d := specDecision()
	huge := map[string]any{"blob": strings.Repeat("x", 100_000)}
	d.Request = &engine.Request{CustomerID: "c-1042", Placement: "checkout", Context: huge, Now: d.Now}
	m, _ := NewDecisionMessage(make([]byte, 0, 64), d)
	full := string(m.JSON)
	if !m.Fit(len(full)) || string(m.JSON) != full {
		t.Fatal("a message that fits was changed")
	}
	if !m.Fit(2048) {
		t.Fatalf("did not fit in 2048 bytes: %d bytes", len(m.JSON))
	}
	ev, err := ParseDecisionEvent(m.JSON)
	if err != nil {
		t.Fatalf("%v: %s", err, m.JSON)
	}
	if !ev.RequestTruncated || ev.Request != nil || ev.ID != d.DecisionID || len(ev.Actions) != 1 || ev.Now.IsZero() {
		t.Fatalf("truncated event %s", m.JSON)
	}
	if !strings.HasSuffix(string(m.JSON), `"request_truncated":true}`) || len(m.JSON) > 2048 {
		t.Fatalf("truncated event %s", m.JSON)
	}
	// encoding/json writes the truncated event the same way.
	want := NewDecisionEvent(d)
	want.Request, want.RequestTruncated = nil, true
	if wj, _ := json.Marshal(want); string(wj) != string(m.JSON) {
		t.Fatalf("got  %s\nwant %s", m.JSON, wj)
	}
	if m.Fit(100) { // the event without its request is still larger
		t.Fatal("fits in 100 bytes")
	}
	outcome := `{"type":"outcome","id":"` + strings.Repeat("y", 500) + `"}`
	other := &Message{Kind: KindOutcome, JSON: []byte(outcome)}
	if other.Fit(100) || string(other.JSON) != outcome {
		t.Fatal("an outcome was cut")
	}
}
