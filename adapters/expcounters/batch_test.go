package expcounters

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/wire"
)

// oneByOneScript is the script of the counters before batches (one call
// per event), kept as the reference the batches are checked and measured
// against.
var oneByOneScript = redis.NewScript(`
if redis.call("SETBIT", KEYS[2], ARGV[1], 1) == 1 then return 0 end
if redis.call("TTL", KEYS[2]) < 0 then redis.call("EXPIRE", KEYS[2], ARGV[2]) end
redis.call("SET", KEYS[3], ARGV[3], "NX")
for i = 9, #ARGV do
  local g = ARGV[i]
  redis.call("HINCRBY", KEYS[1], g .. "|" .. ARGV[4], 1)
  if ARGV[4] == "d" and ARGV[5] ~= "" then redis.call("PFADD", KEYS[i - 5], ARGV[5]) end
  if ARGV[4] == "c" and ARGV[6] ~= "" then
    redis.call("HINCRBY", KEYS[1], g .. "|r|" .. ARGV[6], ARGV[7])
    redis.call("HINCRBYFLOAT", KEYS[1], g .. "|q|" .. ARGV[6], ARGV[8])
  end
end
return 1
`)

// recordOneByOne is Counters.Record as it was before batches: one script
// call per event.
func recordOneByOne(ctx context.Context, c *Counters, ev Event) (bool, error) {
	var what, cust, cur string
	var minor int64
	var sq float64
	var groups []string
	switch {
	case ev.Decision != nil:
		d := ev.Decision
		if d.CustomerID == "" {
			return false, nil
		}
		what, cust = "d", d.CustomerID
		for _, a := range d.Experiments {
			groups = append(groups, GroupOf(a.ID, a.Variant))
		}
		if d.Holdout {
			groups = append(groups, HoldoutHeldOut)
		} else {
			groups = append(groups, HoldoutServed)
		}
	case ev.Outcome != nil && ev.Outcome.Outcome == wire.OutcomeConverted:
		o := ev.Outcome
		what = "oc"
		if o.OfferID == "" {
			what = "c"
			if o.Currency != "" {
				cur, minor = o.Currency, o.Value.Minor
				sq = o.Value.Major() * o.Value.Major()
			}
		}
		exps := o.Experiments
		if c.Attribute != nil {
			own, ok := c.Attribute(o)
			if !ok {
				return false, nil
			}
			exps = own
		}
		for _, a := range exps {
			groups = append(groups, GroupOf(a.ID, a.Variant))
		}
		if g := c.holdoutGroup(o); g != "" {
			groups = append(groups, g)
		}
	default:
		return false, nil
	}
	if len(groups) == 0 {
		return false, nil
	}
	keys := []string{c.key("counts"), c.key("seen:" + ev.Stream + ":" + strconv.FormatUint(ev.Sequence/chunkBits, 10)), c.key("since")}
	args := []any{ev.Sequence % chunkBits, int64(SeenTTL / time.Second), ev.Stored.UTC().Format(time.RFC3339), what, cust, cur, minor,
		strconv.FormatFloat(sq, 'g', -1, 64)}
	for _, g := range groups {
		keys = append(keys, c.key("cust:"+g))
		args = append(args, g)
	}
	n, err := oneByOneScript.Run(ctx, c.client, keys, args...).Int()
	return n == 1, err
}

// message is one event of a stream as the consumer gets it.
type message struct {
	subject string
	data    []byte
	seq     uint64
	stored  time.Time
}

// generatedMessages is the generated stream as messages from sequence
// first on (converted outcomes and decisions: the consumer's filter), its
// dismissals turned into offer conversions so that every kind is there.
func generatedMessages(t testing.TB, first uint64) []message {
	t.Helper()
	var out []message
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, line := range generatedEvents(t) {
		m := message{seq: first + uint64(len(out)), stored: t0.Add(time.Duration(len(out)) * time.Millisecond)}
		switch {
		case bytes.Contains(line, []byte(`"type":"decision"`)):
			m.subject, m.data = "arbiter.decision.checkout", line
		case bytes.Contains(line, []byte(`"outcome":"converted"`)):
			m.subject, m.data = "arbiter.outcome.converted", line
		case bytes.Contains(line, []byte(`"outcome":"dismissed"`)):
			m.subject, m.data = "arbiter.outcome.converted", bytes.Replace(line, []byte(`"outcome":"dismissed"`), []byte(`"outcome":"converted"`), 1)
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

// oldEvent reads m as the consumer did before batches (encoding/json).
func oldEvent(t testing.TB, m message) Event {
	ev := Event{Stream: "ARBITER", Sequence: m.seq, Stored: m.stored}
	var err error
	if m.subject == "arbiter.decision.checkout" {
		ev.Decision, err = wire.ParseDecisionEvent(m.data)
	} else {
		ev.Outcome, err = wire.ParseOutcome("arbiter", m.subject, m.data, m.stored)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// newEvent reads m as the consumer does.
func newEvent(t testing.TB, m message) Event {
	ev, err := parseEvent("arbiter", "ARBITER", m.subject, m.data, m.seq, m.stored)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func sameSnapshots(t *testing.T, got, want *Snapshot) {
	t.Helper()
	if !got.Since.Equal(want.Since) {
		t.Errorf("since %v, want %v", got.Since, want.Since)
	}
	if len(got.Groups) != len(want.Groups) {
		t.Errorf("%d groups, want %d", len(got.Groups), len(want.Groups))
	}
	for name, w := range want.Groups {
		g := got.Groups[name]
		if g == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		if g.Decisions != w.Decisions || g.Customers != w.Customers || g.Conversions != w.Conversions || g.OfferConversions != w.OfferConversions ||
			len(g.Revenue) != len(w.Revenue) || len(g.RevenueSquares) != len(w.RevenueSquares) {
			t.Errorf("%s: %+v, want %+v", name, g, w)
			continue
		}
		for cur, r := range w.Revenue {
			if g.Revenue[cur] != r {
				t.Errorf("%s: revenue %s %d, want %d", name, cur, g.Revenue[cur], r)
			}
			// The sum of squares is added up in another order (in the script
			// per batch): equal to rounding.
			if q := g.RevenueSquares[cur]; math.Abs(q-w.RevenueSquares[cur]) > 1e-12*math.Abs(w.RevenueSquares[cur]) {
				t.Errorf("%s: squares %s %v, want %v", name, cur, q, w.RevenueSquares[cur])
			}
		}
	}
}

// TestBatchesCountAsOneByOne: a generated stream of the example shop
// (decisions held out and enrolled, whole-decision and offer conversions,
// anonymous decisions, outcomes another service published), its sequences
// across a seen chunk's end, counted in batches of random sizes with
// redeliveries (in the same batch and in later ones), gives the counters
// that one script call per event gave, each event delivered once.
func TestBatchesCountAsOneByOne(t *testing.T) {
	ctx := context.Background()
	msgs := generatedMessages(t, chunkBits-1000)
	attribute := func(o *wire.OutcomeEvent) ([]wire.Assignment, bool) {
		if o.DecisionID == "" || o.DecisionID[len(o.DecisionID)-1]%3 == 0 { // refused: about a third
			return nil, false
		}
		return []wire.Assignment{{ID: "other", Variant: o.DecisionID[len(o.DecisionID)-1:]}}, true
	}
	held := map[string]bool{} // the customers' holdout, as their decisions say
	for _, m := range msgs {
		if m.subject == "arbiter.decision.checkout" {
			d := oldEvent(t, m).Decision
			held[d.CustomerID] = d.Holdout
		}
	}
	holdoutOf := func(id string) bool { return held[id] }
	newCounters := func() *Counters {
		client, prefix, _ := redistest.Client(t)
		c := New(client, prefix)
		c.Attribute, c.HoldoutOf = attribute, holdoutOf
		return c
	}
	old, batched := newCounters(), newCounters()
	r := rand.New(rand.NewPCG(1, 2))
	unverified := 0
	for i := range msgs {
		if msgs[i].subject != "arbiter.decision.checkout" && r.IntN(4) == 0 {
			msgs[i].data = bytes.Replace(msgs[i].data, []byte(`"verified":true`), []byte(`"verified":false`), 1)
			unverified++
		}
	}
	counted := 0
	for _, m := range msgs {
		n, err := recordOneByOne(ctx, old, oldEvent(t, m))
		if err != nil {
			t.Fatal(err)
		}
		if n {
			counted++
		}
	}
	var pending []message // delivered, to be delivered again
	total := 0
	for i := 0; i < len(msgs); {
		var evs []Event
		size := 1 + r.IntN(300)
		for ; len(evs) < size && i < len(msgs); i++ {
			evs = append(evs, newEvent(t, msgs[i]))
			if r.IntN(10) == 0 {
				pending = append(pending, msgs[i])
			}
			if r.IntN(50) == 0 {
				evs = append(evs, newEvent(t, msgs[i])) // twice in one batch
			}
		}
		for len(pending) > 0 && r.IntN(3) > 0 {
			evs = append(evs, newEvent(t, pending[0]))
			pending = pending[1:]
		}
		r.Shuffle(len(evs), func(a, b int) { evs[a], evs[b] = evs[b], evs[a] })
		n, err := batched.RecordBatch(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != counted || unverified == 0 {
		t.Errorf("batches counted %d events, one by one %d (%d unverified outcomes)", total, counted, unverified)
	}
	got, want := sameCounts(t, ctx, batched, old)
	kinds := map[string]int64{}
	for _, g := range want.Groups {
		kinds["d"] += g.Decisions
		kinds["c"] += g.Conversions
		kinds["oc"] += g.OfferConversions
	}
	if kinds["d"] == 0 || kinds["c"] == 0 || kinds["oc"] == 0 || want.Groups[HoldoutHeldOut] == nil || len(want.Groups) < 4 {
		t.Errorf("the stream counted %v in %d groups: it tests too little", kinds, len(want.Groups))
	}
	// The view GET /v1/experiments answers is the same.
	rs := exampleRuleset(t)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a, err := json.Marshal(NewView(rs, got, at))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(NewView(rs, want, at))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(roundFloats(t, a), roundFloats(t, b)) {
		t.Errorf("view\n%s\nwant\n%s", a, b)
	}
}

// TestBatchRedeliveredCountsOnce: an event redelivered, in the same batch
// or in a later one, counts once; a batch of nothing new writes nothing.
func TestBatchRedeliveredCountsOnce(t *testing.T) {
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	dec := func(seq uint64, cust string) Event {
		return Event{Stream: "ARBITER", Sequence: seq, Stored: at.Add(time.Duration(seq) * time.Second),
			Decision: &wire.DecisionEvent{CustomerID: cust, Experiments: []wire.Assignment{{ID: "x", Variant: "a"}}}}
	}
	for _, tc := range []struct {
		batch []Event
		want  int
	}{
		{[]Event{dec(5, "a"), dec(6, "b"), dec(5, "a")}, 2},
		{[]Event{dec(6, "b"), dec(7, "c"), dec(chunkBits+6, "d")}, 2},
		{[]Event{dec(7, "c"), dec(5, "a")}, 0},
		{[]Event{dec(4, "e"), {Stream: "ARBITER", Sequence: 3, Decision: &wire.DecisionEvent{}}}, 1}, // anonymous: not counted
		// Sequences of one chunk further apart than one GETRANGE reads: SETBIT.
		{[]Event{dec(chunkBits+100000, "f"), dec(chunkBits+6, "d"), dec(chunkBits+7, "g")}, 2},
		{[]Event{dec(chunkBits+100000, "f"), dec(chunkBits+7, "g")}, 0},
	} {
		n, err := c.RecordBatch(ctx, tc.batch)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("counted %d, want %d", n, tc.want)
		}
	}
	// The seen bits are those of one SETBIT per event (replicas of the code
	// before batches share them during a rolling update), both ways.
	for _, tc := range []struct {
		seq       uint64
		oldFirst  bool
		wantAfter bool
	}{{5, false, false}, {chunkBits + 100000, false, false}, {9, true, false}, {chunkBits + 9, true, false}} {
		ev := dec(tc.seq, "h")
		if tc.oldFirst {
			if ok, err := recordOneByOne(ctx, c, ev); err != nil || !ok {
				t.Fatalf("%d: one by one: %v %v", tc.seq, ok, err)
			}
			if n, err := c.RecordBatch(ctx, []Event{dec(tc.seq+1, "i"), ev}); err != nil || n != 1 {
				t.Errorf("%d counted one by one, then in a batch: %d %v, want 1 (the other event)", tc.seq, n, err)
			}
			continue
		}
		if ok, err := recordOneByOne(ctx, c, ev); err != nil || ok {
			t.Errorf("%d counted in a batch, then one by one: %v %v", tc.seq, ok, err)
		}
	}
	s, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Groups[GroupOf("x", "a")]; g == nil || g.Decisions != 11 || g.Customers != 9 {
		t.Errorf("x|a %+v, want 11 decisions of 9 customers", g)
	}
	if g := s.Groups[HoldoutServed]; g == nil || g.Decisions != 11 {
		t.Errorf("served %+v", g)
	}
	if !s.Since.Equal(at.Add(5 * time.Second)) {
		t.Errorf("since %v, want the earliest time of the first batch", s.Since)
	}
}

// roundFloats rewrites every number of a JSON document with 9 significant
// digits.
func roundFloats(t *testing.T, doc []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case float64:
			r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 9, 64), 64)
			return r
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return v
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestViewWithMoreConversionsThanDecisions: a group with more conversions
// than decisions (a decision converted twice, or decided before the
// counters began) has no uplift, and the view is still JSON (its interval
// was NaN: GET /v1/experiments failed).
func TestViewWithMoreConversionsThanDecisions(t *testing.T) {
	rs := exampleRuleset(t)
	x := rs.Experiments[0]
	s := &Snapshot{Groups: map[string]*Group{}}
	for i, v := range x.Variants {
		s.Groups[GroupOf(x.ID, v.ID)] = &Group{Decisions: 3, Customers: 3, Conversions: int64(2 + 3*i),
			Revenue: map[string]int64{"USD": 1000}, RevenueSquares: map[string]float64{"USD": 40}}
	}
	s.Groups[HoldoutHeldOut] = &Group{Decisions: 2, Conversions: 4}
	s.Groups[HoldoutServed] = &Group{Decisions: 9, Conversions: 3}
	v := NewView(rs, s, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if _, err := json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	if u := v.Experiments[0].Variants[1].Uplift; u != nil {
		t.Errorf("uplift of a group with 5 conversions of 3 decisions: %+v", u)
	}
	if v.Holdout.Uplift != nil {
		t.Errorf("holdout uplift with 4 conversions of 2 decisions held out: %+v", v.Holdout.Uplift)
	}
}

// TestLargeBatch: a batch of more customers than Redis's Lua unpacks
// into one command's arguments (8000) is counted in parts, each event once
// (in one script call it failed).
func TestLargeBatch(t *testing.T) {
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var evs []Event
	for i := range 9*maxScriptEvents + 500 {
		evs = append(evs, Event{Stream: "ARBITER", Sequence: uint64(1 + i%(9*maxScriptEvents+100)), Stored: at,
			Decision: &wire.DecisionEvent{CustomerID: "c" + strconv.Itoa(i), Experiments: []wire.Assignment{{ID: "x", Variant: "a"}}}})
	}
	n, err := c.RecordBatch(context.Background(), evs)
	if err != nil || n != 9*maxScriptEvents+100 {
		t.Fatalf("counted %d (%v), want %d", n, err, 9*maxScriptEvents+100)
	}
	s, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Groups[GroupOf("x", "a")]; g == nil || g.Decisions != int64(n) {
		t.Errorf("x|a %+v, want %d decisions", g, n)
	}
}

// TestRecordOnceCountsAsRecordBatch: the generated stream (decisions and
// outcomes), counted by RecordOnce in batches of random sizes (some of
// more than maxOnceEvents, counted in parts), each batch counted again
// under its key as a retry after a lost reply would, counts what
// RecordBatch counts, and the repeated calls count nothing.
func TestRecordOnceCountsAsRecordBatch(t *testing.T) {
	ctx := context.Background()
	msgs := generatedMessages(t, 1)
	msgs = append(msgs, generatedMessages(t, uint64(len(msgs))+1)...) // enough for a batch in two parts
	newCounters := func() *Counters {
		client, prefix, _ := redistest.Client(t)
		return New(client, prefix)
	}
	ref, once := newCounters(), newCounters()
	r := rand.New(rand.NewPCG(3, 4))
	refTotal, onceTotal := 0, 0
	for i, batchNo := 0, 0; i < len(msgs); batchNo++ {
		var evs []Event
		size := 1 + r.IntN(300)
		if batchNo == 3 {
			size = maxOnceEvents + 200 // in two parts
		}
		for ; len(evs) < size && i < len(msgs); i++ {
			evs = append(evs, newEvent(t, msgs[i]))
		}
		n, err := ref.RecordBatch(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		refTotal += n
		key := "test:" + strconv.Itoa(batchNo)
		if n, err = once.RecordOnce(ctx, key, evs); err != nil {
			t.Fatal(err)
		}
		onceTotal += n
		if again, err := once.RecordOnce(ctx, key, evs); err != nil || again != 0 {
			t.Fatalf("batch %d counted again: %d (%v)", batchNo, again, err)
		}
	}
	if onceTotal != refTotal || refTotal < maxOnceEvents+200 {
		t.Errorf("RecordOnce counted %d events, RecordBatch %d", onceTotal, refTotal)
	}
	sameCounts(t, ctx, once, ref)
}

// sameCounts reads both counters and fails unless they hold the same
// snapshot; it returns the two.
func sameCounts(t *testing.T, ctx context.Context, got, want *Counters) (g, w *Snapshot) {
	t.Helper()
	w, err := want.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err = got.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshots(t, g, w)
	return g, w
}

// TestRecordOnceUnpacksABatchOfDistinctCustomers: the largest batch one
// call counts (maxOnceEvents decisions, every one a customer of its own,
// all in one variant) goes through one script call, whose PFADD takes
// every customer as an argument (Redis's Lua unpacks up to 8000).
func TestRecordOnceUnpacksABatchOfDistinctCustomers(t *testing.T) {
	ctx := context.Background()
	client, prefix, _ := redistest.Client(t)
	c := New(client, prefix)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	evs := make([]Event, maxOnceEvents)
	for i := range evs {
		evs[i] = Event{Stream: "ARBITER", Sequence: uint64(i + 1), Stored: at, Decision: &wire.DecisionEvent{
			CustomerID: "c-" + strconv.Itoa(i), Experiments: []wire.Assignment{{ID: "banner", Variant: "b"}}}}
	}
	if n, err := c.RecordOnce(ctx, "test:big", evs); err != nil || n != maxOnceEvents {
		t.Fatalf("counted %d (%v), want %d", n, err, maxOnceEvents)
	}
	if keys, err := client.Keys(ctx, prefix+"*batch:test:big:*").Result(); err != nil || len(keys) != 1 {
		t.Fatalf("batch keys %v (%v): want one call, part 0", keys, err)
	}
	s, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var g *Group
	for _, x := range s.Groups {
		if x.Decisions == maxOnceEvents {
			g = x
		}
	}
	if g == nil || g.Customers < maxOnceEvents*97/100 || g.Customers > maxOnceEvents*103/100 {
		t.Fatalf("groups %+v: want one of %d decisions and about as many customers", s.Groups, maxOnceEvents)
	}
}
