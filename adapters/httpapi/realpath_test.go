package httpapi

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/profilestore"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/bench/loadgen"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// realPath is the whole decision path without a network: the server's
// handler on a fasthttp.RequestCtx, the wire decoder, the engine on the
// example checkout rules, a profile cache holding every customer (Redis
// behind it is never reached), the in-memory ledger, the response and the
// decision event handed to a sink.
type realPath struct {
	handler fasthttp.RequestHandler
	bodies  [][]byte
	ctx     fasthttp.RequestCtx
	req     fasthttp.Request
	n       int
}

// discardSink takes an event as the publisher does once it is sent: it is
// done with it.
type discardSink struct{ n int }

func (s *discardSink) Publish(m *wire.Message) {
	s.n += len(m.JSON)
	m.Release()
}

// natsMsgSink does what the publisher does with an event before the
// network (events.Publisher.appendEvent): a nats.Msg with its subject and
// its Nats-Msg-Id header, the allocations the NATS client forces.
type natsMsgSink struct{ n int }

func (s *natsMsgSink) Publish(m *wire.Message) {
	msg := nats.NewMsg(m.Subject("arbiter"))
	msg.Data = m.JSON
	msg.Header.Set(jetstream.MsgIDHeader, m.ID)
	s.n += len(msg.Data) + len(msg.Subject)
	m.Release()
}

const realPathBodies = 512

// realPathAllocBound bounds the allocations of one decision on the real
// path (TestDecideRealPathAllocs).
const realPathAllocBound = 4

func newRealPath(tb testing.TB, sink Sink) *realPath {
	tb.Helper()
	rs, err := rulefiles.Load("../../examples/checkout")
	if err != nil {
		tb.Fatal(err)
	}
	rl := rulefiles.New("unused", rulefiles.Options{Logger: quietLog(), Load: func() (*rules.Ruleset, error) { return rs, nil }})
	if _, err := rl.Reload(rulefiles.TriggerStart); err != nil {
		tb.Fatal(err)
	}
	client, prefix, _ := redistest.Client(tb)
	ctx := context.Background()
	const customers = 300
	ids := make([]string, 0, customers)
	for _, p := range profilegen.Generate(19, customers, time.Time{}) {
		if err := profilestore.Put(ctx, client, prefix, &rs.Schema, p); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, p["id"].(string))
	}
	store := profilestore.NewRedisStore(client, profilestore.StoreOptions{Prefix: prefix})
	cache := profilestore.NewCache(store, profilestore.CacheOptions{TTL: time.Hour, NegativeTTL: time.Hour})
	m := metrics.New()
	eng := engine.New(engine.Options{Ledger: memledger.New(), Observer: m, Profiles: cache})
	srv, err := New(Options{Rules: rl, Engine: eng, Sink: sink, Metrics: m, Logger: quietLog(),
		// Every decision is at the same instant, so that the caps of the
		// day are used up early and later decisions are all alike.
		Now: func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		tb.Fatal(err)
	}
	mix, err := loadgen.NewMix(loadgen.MixConfig{KnownIDs: ids, AnonymousShare: 0.10, UnknownShare: 0.10}, 19)
	if err != nil {
		tb.Fatal(err)
	}
	g := mix.Generator()
	rp := &realPath{handler: srv.Handler()}
	for range realPathBodies {
		body, _ := g.Next(nil)
		rp.bodies = append(rp.bodies, body)
	}
	rp.req.Header.SetMethod("POST")
	rp.req.SetRequestURI("/v1/decide")
	rp.ctx.Init(&rp.req, nil, nil)
	// Warm up: every customer in the cache (unknown ones as negative
	// entries), every pool filled.
	for range 2 * realPathBodies {
		rp.do(tb)
	}
	return rp
}

// do serves the next request of the mix.
func (rp *realPath) do(tb testing.TB) {
	rp.ctx.Request.SetBodyRaw(rp.bodies[rp.n%len(rp.bodies)])
	rp.n++
	rp.ctx.Response.Reset()
	rp.handler(&rp.ctx)
	if rp.ctx.Response.StatusCode() != 200 {
		tb.Fatalf("status %d: %s", rp.ctx.Response.StatusCode(), rp.ctx.Response.Body())
	}
}

// BenchmarkDecideRealPath is one decision through the whole path, no
// network (realPath), on loadgen's mix of requests (10% anonymous, 10%
// unknown ids, every customer cached). /sink=discard is the request path;
// /sink=natsmsg adds what the publisher does with the event before the
// network (a nats.Msg and its header: what the NATS client forces).
func BenchmarkDecideRealPath(b *testing.B) {
	for _, c := range []struct {
		name string
		sink Sink
	}{{"discard", &discardSink{}}, {"natsmsg", &natsMsgSink{}}} {
		b.Run("sink="+c.name, func(b *testing.B) {
			rp := newRealPath(b, c.sink)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rp.do(b)
			}
		})
	}
}

// The decision path allocates (next to) nothing per decision in steady
// state: an alloc regression guard on the real path (not under -race,
// which allocates on its own).
func TestDecideRealPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rp := newRealPath(t, &discardSink{})
	got := testing.AllocsPerRun(4*realPathBodies, func() { rp.do(t) })
	const bound = realPathAllocBound
	t.Logf("%.2f allocations per decision (bound %s)", got, strconv.FormatFloat(bound, 'f', -1, 64))
	if got > bound {
		t.Errorf("the decision path allocates %.2f times per decision, more than %v", got, bound)
	}
}

// keepSink keeps a copy of the last event's JSON and releases the message.
type keepSink struct{ last []byte }

func (s *keepSink) Publish(m *wire.Message) {
	s.last = append(s.last[:0], m.JSON...)
	m.Release()
}

// FuzzDecideRealPath sends random bodies (and loadgen's) through the real
// path, its memory reused from one to the next: never a 500, always JSON,
// and a decision's event records the request as sent (the event is
// written while the request's memory is valid).
func FuzzDecideRealPath(f *testing.F) {
	for _, s := range []string{decideBody, `{}`, `{"customer_id":"c-000001","placement":"checkout","cart":{"currency":"USD","items":[{"sku":"A\u00e9","category":"shoes","price":60.25,"quantity":2,"tags":["x"]}]},"context":{"country":"US","k\u0065y":"v\u00e9","n":1.5,"a":["x",1,true]}}`,
		`{"customer_id":"c-9999999","placement":"cart","channel":"app"}`, `{"dry_run":true,"now":"2026-11-28T12:00:00Z","profile":{"orders":3}}`} {
		f.Add([]byte(s))
	}
	sink := &keepSink{}
	rp := newRealPath(f, sink)
	for _, b := range rp.bodies[:16] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sink.last = sink.last[:0]
		rp.ctx.Request.SetBody(body)
		rp.ctx.Response.Reset()
		rp.handler(&rp.ctx)
		if sc := rp.ctx.Response.StatusCode(); sc >= 500 {
			t.Fatalf("%d for %q: %s", sc, body, rp.ctx.Response.Body())
		}
		if !json.Valid(rp.ctx.Response.Body()) {
			t.Fatalf("not JSON: %s", rp.ctx.Response.Body())
		}
		if len(sink.last) == 0 {
			return
		}
		ev, err := wire.ParseDecisionEvent(sink.last)
		if err != nil {
			t.Fatalf("event %s: %v", sink.last, err)
		}
		req, err := wire.DecodeDecide(body, 3)
		if err != nil {
			t.Fatalf("an event for a body DecodeDecide refuses (%v): %q", err, body)
		}
		if want := wire.AppendRequest(nil, req); string(ev.Request) != string(want) {
			t.Fatalf("the event's request\n%s\nis not the body's\n%s", ev.Request, want)
		}
	})
}
