package events

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// bigDecision is the message of a decision whose request holds a context
// of about size bytes and a cart of many lines, as the server makes it.
func bigDecision(id string, size, lines int) *wire.Message {
	items := make([]engine.Item, 0, lines)
	for i := 0; i < lines; i++ {
		items = append(items, engine.Item{SKU: "SKU-" + strings.Repeat("x", 20), Category: "shoes", Price: 1999, Quantity: 1})
	}
	req := &engine.Request{CustomerID: "c-1", Placement: "checkout", Channel: "web",
		Cart:    engine.Cart{Currency: "USD", Items: items},
		Context: map[string]any{"blob": strings.Repeat("y", size)}, Now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	d := &engine.Decision{DecisionID: id, CustomerID: "c-1", Ruleset: "r1", Segments: []string{"vip"}, Experiments: []engine.Assignment{},
		Actions:  []engine.Action{{OfferID: "vip_10", Kind: "action", Score: 1}},
		Degraded: []string{}, Placement: "checkout", Channel: "web", Currency: "USD", Now: req.Now, Request: req,
		CartTotal: engine.Money{Minor: 399800, Exp: 2}}
	m, _ := wire.NewDecisionMessage(nil, d)
	return m
}

// An event never exceeds the stream's max_msg_size nor the server's
// max_payload: a decision event that would is published without its
// request and with "request_truncated": true (counted in Stats); one that
// fits keeps its request.
func TestPublisherFitsEventsToTheStream(t *testing.T) {
	url := testNATS(t)
	for _, tc := range []struct {
		name       string
		maxMsgSize int32 // of the stream, created beforehand; 0: the publisher's own stream
		blob       int
	}{
		{"stream max_msg_size", 16 << 10, 40 << 10},
		{"server max_payload", 0, 3 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testPrefix(t, url)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			js := testJetStream(t, url)
			if tc.maxMsgSize > 0 {
				cfg := StreamConfig(Options{Prefix: prefix})
				cfg.MaxMsgSize = tc.maxMsgSize
				if _, err := js.CreateStream(ctx, cfg); err != nil {
					t.Fatal(err)
				}
			}
			p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			small, big := bigDecision("dcs_small", 10, 5), bigDecision("dcs_big", tc.blob, 200)
			smallJSON := string(small.JSON)
			p.Publish(small)
			p.Publish(big)
			p.Publish(decisionEvent(1))
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Published != 3 || st.Dropped != 0 || st.Truncated != 1 {
				t.Fatalf("stats %+v, want 3 published, 1 truncated", st)
			}
			limit := int(tc.maxMsgSize)
			if limit == 0 {
				limit = 1 << 20 // the server's default max_payload
			}
			msgs := readStream(t, url, prefix, prefix+".>")
			if len(msgs) != 3 {
				t.Fatalf("%d events in the stream", len(msgs))
			}
			if string(msgs[0].Data()) != smallJSON {
				t.Errorf("the event that fits was changed:\n%s", msgs[0].Data())
			}
			ev, err := wire.ParseDecisionEvent(msgs[1].Data())
			if err != nil {
				t.Fatal(err)
			}
			if size := len(msgs[1].Data()) + headerSize(msgs[1].Headers()); size > limit || !ev.RequestTruncated || ev.Request != nil ||
				ev.ID != "dcs_big" || len(ev.Actions) != 1 || ev.Now.IsZero() {
				t.Fatalf("the large event (%d bytes, limit %d): %.300s", size, limit, msgs[1].Data())
			}
		})
	}
}
