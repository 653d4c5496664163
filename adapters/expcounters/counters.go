// Package expcounters keeps the fleet's live experiment counters in Redis,
// for GET /v1/experiments and the console: per experiment variant (and per
// holdout group) the decisions, the distinct customers (HyperLogLog), the
// whole-decision conversions and their revenue, and the offer conversions.
// A durable JetStream consumer shared by the replicas writes them from the
// decision and outcome events, off the decision path; the route reads them
// with one pipeline, never rescanning the stream. What is approximate and
// what is bounded is in docs/experiments.md.
//
// Redis layout (prefix default "arbiter:"), every key in the slot of the
// hash tag {experiments}, so that one script updates them together:
//
//	arbiter:xs:{experiments}:counts   hash: <group>|d decisions, <group>|c whole-decision
//	    conversions, <group>|oc offer conversions, <group>|r|<CUR> their revenue in
//	    minor units, <group>|q|<CUR> the sum of its squares in major units (float);
//	    <group> is <EXPERIMENT>|<VARIANT>, or holdout|held_out and holdout|served
//	arbiter:xs:{experiments}:cust:<group>   HyperLogLog of the group's customers
//	arbiter:xs:{experiments}:since          the time of the first event counted
//	arbiter:xs:{experiments}:seen:<STREAM>@<CREATED>:<N>  bitmap: bit s of chunk N = s/2^20 is
//	    set once stream sequence N·2^20+s is counted (each event counts once however often
//	    it is delivered); expires an hour after the chunk's first event; <CREATED> is when
//	    the stream was made, so that a stream made again counts its events (StreamIdentity)
package expcounters

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/wire"
)

// SeenTTL is how long a chunk of the seen bitmap is kept after its first
// event: far longer than a redelivery takes (the ack wait is 30 s).
const SeenTTL = time.Hour

// chunkBits is the number of stream sequences per seen bitmap (128 KiB).
const chunkBits = 1 << 20

// Counters reads and writes the live counters. It is safe for concurrent
// use.
type Counters struct {
	client redis.UniversalClient
	prefix string
	// HoldoutOf tells whether a customer is held out, for outcomes whose
	// decision id does not say it (ids made before signed ids); nil: such
	// outcomes count in no holdout group.
	HoldoutOf func(customerID string) bool
	// Attribute checks an outcome as the feedback consumer does (package
	// attribution: a decision the fleet signed, for this customer, within
	// the attribution window): ok false for an outcome attribution
	// refuses, which then counts nowhere; else the variants it counts in,
	// which replace the event's: the decision's own, read from its signed
	// id, or those an event Arbiter sealed carries (Attributed). Every
	// outcome is checked, "verified" or not: another service may say it.
	// nil: every outcome counts in the variants it carries.
	Attribute func(o *wire.OutcomeEvent) (variants []wire.Assignment, ok bool)
	// SingleReader says these counters are the only reader of their
	// stream's events (serve's embedded NATS server, which no other replica
	// reaches): the consumer (its own durable, ConsumerName + "-single")
	// then acknowledges cumulatively, once per batch (AckAll), instead of
	// once per event. Replicas that share a stream must leave it false:
	// a cumulative ack would acknowledge the events another replica is
	// still counting.
	SingleReader bool
	// DecisionsPublished says the decisions are counted as they are
	// published (Published, with the embedded NATS server and Redis): the
	// consumer then reads and counts the outcomes only.
	DecisionsPublished bool

	fetched atomic.Int64 // BodiesFetched
	// onceBatches keeps RecordOnce's batch, its entries, seen bits and
	// groups, from one call to the next (of up to maxOnceEvents events,
	// a fresh one is half a megabyte).
	onceBatches sync.Pool
}

// BodiesFetched is how many events' bodies the single reader fetched from
// the stream: it reads headers only, so an outcome, or a decision without
// wire.ExposureHeader (published by an earlier version or another
// publisher). Arbiter's own decisions cost no fetch.
func (c *Counters) BodiesFetched() int64 { return c.fetched.Load() }

// New returns Counters under prefix ("" means "arbiter:").
func New(client redis.UniversalClient, prefix string) *Counters {
	if prefix == "" {
		prefix = "arbiter:"
	}
	return &Counters{client: client, prefix: prefix}
}

func (c *Counters) key(rest string) string { return c.prefix + "xs:{experiments}:" + rest }

// Group names.
const (
	HoldoutHeldOut = "holdout|held_out"
	HoldoutServed  = "holdout|served"
)

// GroupOf is the counters' group of an experiment's variant.
func GroupOf(experiment, variant string) string { return experiment + "|" + variant }

// recordScript counts a batch of events none of which was counted before,
// or nothing: it checks the events' seen bits (one GETRANGE per chunk when
// the batch's sequences in it span at most 32768, as a batch of mostly
// consecutive sequences does, else one GETBIT per event); if any is set it
// writes nothing and returns them, as a flat array of chunk numbers and
// bits, for the caller to leave out. Else it sets them (one SETRANGE per
// chunk, or one SETBIT per event), sets the chunks' TTL and the since key
// (NX), and adds the batch's totals, which the caller added up: one
// HINCRBY per group and field, one PFADD per group with its customers. It
// then returns the number of events.
//
// KEYS[1] counts, KEYS[2] since, KEYS[3..2+C] the seen chunks, KEYS[3+C..]
// the groups' HLLs.
// ARGV[1] TTL s, ARGV[2] the since time, ARGV[3] C, ARGV[4] G, ARGV[5] the
// number of events; then each chunk's lowest and highest bit, its number
// of runs of consecutive bits and each run's first bit and length; then each group's name, its decisions,
// conversions and offer conversions, its number of currencies and for
// each the currency, the minor units and the sum of squares (major
// units), its number of customers and its customers.
var recordScript = redis.NewScript(`
local nc, ng = tonumber(ARGV[3]), tonumber(ARGV[4])
local p = 6
local from, bytes, bits = {}, {}, {}
local seen = {}
for k = 1, nc do
  local lo, hi, n = tonumber(ARGV[p]), tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  p = p + 3
  local list = {}
  for j = 1, n do
    local first = tonumber(ARGV[p])
    for bit = first, first + tonumber(ARGV[p + 1]) - 1 do list[#list + 1] = bit end
    p = p + 2
  end
  bits[k] = list
  local blo, bhi = math.floor(lo / 8), math.floor(hi / 8)
  if bhi - blo < 4096 then
    local s = redis.call("GETRANGE", KEYS[2 + k], blo, bhi)
    local t = {string.byte(s, 1, #s)}
    for i = #s + 1, bhi - blo + 1 do t[i] = 0 end
    from[k], bytes[k] = blo, t
    for _, bit in ipairs(list) do
      local i, mask = math.floor(bit / 8) - blo + 1, 2 ^ (7 - bit % 8)
      if math.floor(t[i] / mask) % 2 == 1 then seen[#seen + 1] = k; seen[#seen + 1] = bit end
    end
  else
    for _, bit in ipairs(list) do
      if redis.call("GETBIT", KEYS[2 + k], bit) == 1 then seen[#seen + 1] = k; seen[#seen + 1] = bit end
    end
  end
end
if #seen > 0 then return seen end
for k = 1, nc do
  local t = bytes[k]
  if t then
    local blo = from[k]
    for _, bit in ipairs(bits[k]) do
      local i = math.floor(bit / 8) - blo + 1
      t[i] = t[i] + 2 ^ (7 - bit % 8)
    end
    redis.call("SETRANGE", KEYS[2 + k], blo, string.char(unpack(t)))
  else
    for _, bit in ipairs(bits[k]) do redis.call("SETBIT", KEYS[2 + k], bit, 1) end
  end
  if redis.call("TTL", KEYS[2 + k]) < 0 then redis.call("EXPIRE", KEYS[2 + k], ARGV[1]) end
end
redis.call("SET", KEYS[2], ARGV[2], "NX")
local hll = 2 + nc
` + countGroupsLua + `
return tonumber(ARGV[5])
`)

// countGroupsLua adds a batch's totals, from ARGV[p] on, for ng groups:
// one HINCRBY per group and field into KEYS[1], one PFADD per group with
// its customers into KEYS[hll + g]. Shared by recordScript and
// onceScript.
const countGroupsLua = `
for g = 1, ng do
  local name = ARGV[p]
  local d, c, oc, ncur = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3]), tonumber(ARGV[p + 4])
  p = p + 5
  if d > 0 then redis.call("HINCRBY", KEYS[1], name .. "|d", d) end
  if c > 0 then redis.call("HINCRBY", KEYS[1], name .. "|c", c) end
  if oc > 0 then redis.call("HINCRBY", KEYS[1], name .. "|oc", oc) end
  for j = 1, ncur do
    redis.call("HINCRBY", KEYS[1], name .. "|r|" .. ARGV[p], ARGV[p + 1])
    redis.call("HINCRBYFLOAT", KEYS[1], name .. "|q|" .. ARGV[p], ARGV[p + 2])
    p = p + 3
  end
  local ncust = tonumber(ARGV[p])
  if ncust > 0 then redis.call("PFADD", KEYS[hll + g], unpack(ARGV, p + 1, p + ncust)) end
  p = p + 1 + ncust
end
`

// onceScript counts a batch of events, all or nothing, unless its batch
// key (KEYS[3]) says it was counted before: it then returns 0. Else it
// sets the key for SeenTTL, sets the since key (NX), adds the batch's
// totals as recordScript does and returns the number of events. It is
// for events that reach the counters once and in batches that are made
// again the same after a failure (Published); it writes no seen bits.
//
// KEYS[1] counts, KEYS[2] since, KEYS[3] the batch, KEYS[4..] the groups'
// HLLs. ARGV[1] TTL s, ARGV[2] the since time, ARGV[3] G, ARGV[4] the
// number of events, then each group as in recordScript.
var onceScript = redis.NewScript(`
local ng = tonumber(ARGV[3])
local p = 5
if not redis.call("SET", KEYS[3], "1", "NX", "EX", ARGV[1]) then return 0 end
redis.call("SET", KEYS[2], ARGV[2], "NX")
local hll = 3
` + countGroupsLua + `
return tonumber(ARGV[4])
`)

// Event is what the counters read of one event of the stream: its stream
// and sequence (which make a redelivery count once) and the decision or
// the outcome. Of a decision, only CustomerID, Experiments (ID and
// Variant) and Holdout are read (ParseDecision reads just those).
type Event struct {
	Stream   string
	Sequence uint64
	Stored   time.Time
	Decision *wire.DecisionEvent
	Outcome  *wire.OutcomeEvent
}

// Record counts ev once; it reports whether it counted it now.
func (c *Counters) Record(ctx context.Context, ev Event) (bool, error) {
	n, err := c.RecordBatch(ctx, []Event{ev})
	return n == 1, err
}

// RecordBatch counts each event of evs once: an event counted before (a
// redelivery, or one repeated in evs) counts nothing. It adds the batch up
// and writes it in one script call (none when no event counts in any
// group), and one more call for each time the script finds events counted
// already (a redelivery), without them. It returns how many events it
// counted now; on an error, what the calls before it counted.
func (c *Counters) RecordBatch(ctx context.Context, evs []Event) (int, error) {
	if len(evs) > maxScriptEvents {
		total := 0
		for len(evs) > 0 {
			part := evs[:min(len(evs), maxScriptEvents)]
			n, err := c.RecordBatch(ctx, part)
			total += n
			if err != nil {
				return total, err
			}
			evs = evs[len(part):]
		}
		return total, nil
	}
	b := batch{entries: make([]entry, 0, len(evs)), seen: make(map[seenBit]bool, len(evs))}
	for i := range evs {
		c.add(&b, &evs[i])
	}
	counted := 0
	for len(b.entries) > 0 {
		keys, args := c.call(&b)
		res, err := recordScript.Run(ctx, c.client, keys, args...).Result()
		if err != nil {
			return counted, fmt.Errorf("experiment counters: %w", err)
		}
		switch r := res.(type) {
		case int64:
			return counted + int(r), nil
		case []any:
			b.drop(r)
		default:
			return counted, fmt.Errorf("experiment counters: the script answered %T", res)
		}
	}
	return counted, nil
}

// RecordOnce counts evs, all or nothing, unless the batch named key was
// counted before (within SeenTTL): evs must be the events of that batch
// each time, each event in one batch only, and none counted by Record or
// RecordBatch too. It writes no seen bits: for a producer that hands each
// event over once and, after a failure, makes the same call again
// (Published). Batches of more than maxOnceEvents are counted in parts,
// each under key and its number. It returns how many events it counted
// now.
func (c *Counters) RecordOnce(ctx context.Context, key string, evs []Event) (int, error) {
	counted := 0
	b, _ := c.onceBatches.Get().(*batch)
	if b == nil || len(b.groups) > maxKeptGroups {
		b = &batch{}
	}
	failed := false
	defer func() {
		// A failed call may leave its command queued in the client,
		// still reading b's keys and arguments: b is not kept then.
		if !failed {
			b.release()
			c.onceBatches.Put(b)
		}
	}()
	for part := 0; len(evs) > 0; part++ {
		n := min(len(evs), maxOnceEvents)
		b.entries, b.gs = b.entries[:0], b.gs[:0] // groups and groupOf stay
		clear(b.seen)
		for i := range evs[:n] {
			c.add(b, &evs[i])
		}
		evs = evs[n:]
		if len(b.entries) == 0 {
			continue
		}
		keys, args := c.onceCall(b, c.key("batch:"+key+":"+strconv.Itoa(part)))
		got, err := onceScript.Run(ctx, c.client, keys, args...).Int()
		if err != nil {
			failed = true
			return counted, fmt.Errorf("experiment counters: %w", err)
		}
		counted += got
	}
	return counted, nil
}

// maxScriptEvents bounds the events of one script call, whose customers
// and seen bytes are unpacked into one command's arguments (Redis's Lua
// takes up to 8000).
const maxScriptEvents = 1000

// maxOnceEvents bounds the events of one RecordOnce script call. It
// writes no seen bytes, and a group's customers, the one list unpacked
// into a command's arguments, are at most one an event: 4,096 stays
// under Redis's 8000. Published hands over batches of up to
// PublishedBatch; counting them in one call rather than five matters in
// the embedded Redis, where every script call makes a new Lua
// interpreter (BenchmarkRecord once_4096 against parts of 1,000: 1,891 →
// 1,404 B and 5.4 → 4.2 µs of CPU an event).
const maxOnceEvents = 4096

// maxKeptGroups bounds the groups a kept batch remembers (every variant
// of every experiment seen since: a ruleset reloaded many times with new
// experiments would grow it without end).
const maxKeptGroups = 1024

// batch is a batch's events, each with the groups it counts in.
type batch struct {
	entries []entry
	seen    map[seenBit]bool
	groupOf map[string]int // group -> index in groups
	groups  []string
	gs      []int // the entries' groups, back to back (entry.g0, g1)
	scratch []byte

	// Kept for the next call when the batch is (RecordOnce): totals'
	// groups and the script call's keys and arguments.
	tot  []groupTotals
	ptrs []*groupTotals
	used []int
	keys []string
	args []any
}

// entry is one event to count: its seen bit, what it adds, where.
type entry struct {
	bit    seenBit
	stored time.Time
	what   byte // 'd', 'c' or 'o' (an offer conversion)
	cust   string
	cur    string // 'c' with revenue
	minor  int64
	sq     float64
	g0, g1 int32 // its groups: batch.gs[g0:g1]
}

type seenBit struct {
	stream string
	chunk  uint64
	bit    uint64
}

func (b *batch) group(name []byte) int {
	if n, ok := b.groupOf[string(name)]; ok {
		return n
	}
	if b.groupOf == nil {
		b.groupOf = map[string]int{}
	}
	g := string(name)
	b.groups = append(b.groups, g)
	b.groupOf[g] = len(b.groups) - 1
	return len(b.groups) - 1
}

// release drops the batch's references to the events it counted (their
// customers' ids), keeping its memory for the next batch.
func (b *batch) release() {
	clear(b.entries[:cap(b.entries)])
	clear(b.args[:cap(b.args)])
	for i := range b.tot {
		clear(b.tot[i].custs[:cap(b.tot[i].custs)])
	}
}

func (b *batch) assignment(e *entry, a wire.Assignment) {
	b.scratch = append(append(append(b.scratch[:0], a.ID...), '|'), a.Variant...)
	b.gs = append(b.gs, b.group(b.scratch))
}

// add adds ev to b, unless it counts in no group or b has it already.
func (c *Counters) add(b *batch, ev *Event) {
	e := entry{bit: seenBit{ev.Stream, ev.Sequence / chunkBits, ev.Sequence % chunkBits}, stored: ev.Stored}
	if b.seen[e.bit] {
		return
	}
	start := len(b.gs)
	switch {
	case ev.Decision != nil:
		d := ev.Decision
		if d.CustomerID == "" {
			return
		}
		for _, a := range d.Experiments {
			b.assignment(&e, a)
		}
		if d.Holdout {
			b.gs = append(b.gs, b.group([]byte(HoldoutHeldOut)))
		} else {
			b.gs = append(b.gs, b.group([]byte(HoldoutServed)))
		}
		e.what, e.cust = 'd', d.CustomerID
	case ev.Outcome != nil && ev.Outcome.Outcome == wire.OutcomeConverted:
		o := ev.Outcome
		exps := o.Experiments
		if c.Attribute != nil {
			// Checked even when it says "verified": any service may
			// publish on the subject, and say so (only Arbiter's seal
			// lets its carried variants count).
			own, ok := c.Attribute(o)
			if !ok {
				return
			}
			exps = own
		}
		for _, a := range exps {
			b.assignment(&e, a)
		}
		if g := c.holdoutGroup(o); g != "" {
			b.gs = append(b.gs, b.group([]byte(g)))
		}
		e.what = 'o'
		if o.OfferID == "" {
			e.what = 'c'
			if o.Currency != "" {
				m := o.Value.Major()
				e.cur, e.minor, e.sq = o.Currency, o.Value.Minor, m*m
			}
		}
	default:
		return
	}
	if len(b.gs) == start {
		return
	}
	e.g0, e.g1 = int32(start), int32(len(b.gs))
	if b.seen == nil {
		b.seen = map[seenBit]bool{}
	}
	b.seen[e.bit] = true
	b.entries = append(b.entries, e)
}

// drop leaves out of b the events whose seen bits the script found set:
// chunk numbers (1-based, as call numbered them) and bits.
func (b *batch) drop(found []any) {
	chunks := b.chunks()
	gone := map[seenBit]bool{}
	for i := 0; i+1 < len(found); i += 2 {
		k, _ := found[i].(int64)
		bit, _ := found[i+1].(int64)
		if k >= 1 && int(k) <= len(chunks) {
			ch := chunks[k-1]
			gone[seenBit{ch.stream, ch.chunk, uint64(bit)}] = true
		}
	}
	kept := b.entries[:0]
	for _, e := range b.entries {
		if !gone[e.bit] {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(b.entries) { // none of ours: never loop
		kept = kept[:0]
	}
	b.entries = kept
}

// chunks returns b's seen chunks in the order of the events.
func (b *batch) chunks() []seenBit {
	var out []seenBit
	for _, e := range b.entries {
		ch := seenBit{e.bit.stream, e.bit.chunk, 0}
		if !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// groupTotals is what a batch adds to one group.
type groupTotals struct {
	d, c, oc int64
	rev      map[string]*revenue // per currency
	custs    []string            // once totals returns them: sorted, each once
}

// revenue is a group's revenue in one currency: minor units and the sum
// of the squares of the values in major units.
type revenue struct {
	minor int64
	sq    float64
}

// call returns the keys and arguments of the script call that counts b.
func (c *Counters) call(b *batch) ([]string, []any) {
	chunks := b.chunks()
	bitsOf := make([][]uint64, len(chunks))
	lo, hi := make([]uint64, len(chunks)), make([]uint64, len(chunks))
	for _, e := range b.entries {
		k := slices.Index(chunks, seenBit{e.bit.stream, e.bit.chunk, 0})
		if len(bitsOf[k]) == 0 || e.bit.bit < lo[k] {
			lo[k] = e.bit.bit
		}
		if len(bitsOf[k]) == 0 || e.bit.bit > hi[k] {
			hi[k] = e.bit.bit
		}
		bitsOf[k] = append(bitsOf[k], e.bit.bit)
	}
	used, totals, since := b.totals()
	keys := []string{c.key("counts"), c.key("since")}
	args := []any{int64(SeenTTL / time.Second), since.UTC().Format(time.RFC3339), len(chunks), len(used), len(b.entries)}
	for k, ch := range chunks {
		keys = append(keys, c.key("seen:"+ch.stream+":"+strconv.FormatUint(ch.chunk, 10)))
		bits := bitsOf[k]
		slices.Sort(bits)
		var runs []any
		for i := 0; i < len(bits); {
			j := i + 1
			for j < len(bits) && bits[j] == bits[j-1]+1 {
				j++
			}
			runs = append(runs, bits[i], j-i)
			i = j
		}
		args = append(args, lo[k], hi[k], len(runs)/2)
		args = append(args, runs...)
	}
	return c.appendGroups(keys, args, b, used, totals)
}

// onceCall returns the keys and arguments of the onceScript call that
// counts b under the batch key key.
func (c *Counters) onceCall(b *batch, key string) ([]string, []any) {
	used, totals, since := b.totals()
	keys := append(b.keys[:0], c.key("counts"), c.key("since"), key)
	args := append(b.args[:0], int64(SeenTTL/time.Second), since.UTC().Format(time.RFC3339), len(used), len(b.entries))
	keys, args = c.appendGroups(keys, args, b, used, totals)
	b.keys, b.args = keys, args
	return keys, args
}

// totals adds b up by group: the groups counted in (in order of first
// use), each one's totals (indexed by group), and the earliest time an
// event was stored.
func (b *batch) totals() (used []int, totals []*groupTotals, since time.Time) {
	if cap(b.tot) < len(b.groups) {
		b.tot = make([]groupTotals, len(b.groups), 2*len(b.groups))
	}
	b.tot = b.tot[:len(b.groups)]
	totals = append(b.ptrs[:0], make([]*groupTotals, len(b.groups))...)
	used = b.used[:0]
	for i, e := range b.entries {
		if i == 0 || e.stored.Before(since) {
			since = e.stored
		}
		for _, g := range b.gs[e.g0:e.g1] {
			t := totals[g]
			if t == nil {
				t = &b.tot[g]
				t.d, t.c, t.oc, t.custs = 0, 0, 0, t.custs[:0]
				clear(t.rev)
				totals[g] = t
				used = append(used, g)
			}
			switch e.what {
			case 'd':
				t.d++
				t.custs = append(t.custs, e.cust)
			case 'c':
				t.c++
				if e.cur != "" {
					if t.rev == nil {
						t.rev = map[string]*revenue{}
					}
					r := t.rev[e.cur]
					if r == nil {
						r = &revenue{}
						t.rev[e.cur] = r
					}
					r.minor += e.minor
					r.sq += e.sq
				}
			case 'o':
				t.oc++
			}
		}
	}
	for _, g := range used { // each customer once
		t := totals[g]
		slices.Sort(t.custs)
		t.custs = slices.Compact(t.custs)
	}
	b.ptrs, b.used = totals, used
	return used, totals, since
}

// appendGroups appends each used group's HLL key and its arguments
// (countGroupsLua).
func (c *Counters) appendGroups(keys []string, args []any, b *batch, used []int, totals []*groupTotals) ([]string, []any) {
	for _, g := range used {
		t := totals[g]
		keys = append(keys, c.key("cust:"+b.groups[g]))
		args = append(args, b.groups[g], t.d, t.c, t.oc, len(t.rev))
		curs := make([]string, 0, len(t.rev))
		for cur := range t.rev {
			curs = append(curs, cur)
		}
		slices.Sort(curs)
		for _, cur := range curs {
			args = append(args, cur, t.rev[cur].minor, strconv.FormatFloat(t.rev[cur].sq, 'g', -1, 64))
		}
		args = append(args, len(t.custs))
		for _, cust := range t.custs {
			args = append(args, cust)
		}
	}
	return keys, args
}

// holdoutGroup is the holdout group of an outcome's decision: from its
// signed id, else from HoldoutOf; none for an anonymous decision's, as
// anonymous decisions are in no group (never held out, and not counted).
func (c *Counters) holdoutGroup(o *wire.OutcomeEvent) string {
	if o.CustomerID == "" {
		return ""
	}
	held := false
	if d, ok := decisionid.Parse(o.DecisionID); ok {
		held = d.Holdout
	} else if c.HoldoutOf != nil && o.CustomerID != "" {
		held = c.HoldoutOf(o.CustomerID)
	} else {
		return ""
	}
	if held {
		return HoldoutHeldOut
	}
	return HoldoutServed
}

// Group is one group's counters.
type Group struct {
	Decisions        int64
	Customers        int64 // HyperLogLog estimate
	Conversions      int64 // whole-decision conversions
	OfferConversions int64
	Revenue          map[string]int64   // currency -> minor units
	RevenueSquares   map[string]float64 // currency -> sum of squares, major units
}

// Snapshot is every group's counters and when counting began.
type Snapshot struct {
	Since  time.Time
	Groups map[string]*Group
}

// Read reads every counter, in one pipeline: the hash, the since key and
// one PFCOUNT per group found.
func (c *Counters) Read(ctx context.Context) (*Snapshot, error) {
	h, err := c.client.HGetAll(ctx, c.key("counts")).Result()
	if err != nil {
		return nil, fmt.Errorf("experiment counters: %w", err)
	}
	s := &Snapshot{Groups: map[string]*Group{}}
	get := func(g string) *Group {
		if s.Groups[g] == nil {
			s.Groups[g] = &Group{Revenue: map[string]int64{}, RevenueSquares: map[string]float64{}}
		}
		return s.Groups[g]
	}
	for field, val := range h {
		// <exp>|<variant>|<what>[|<CUR>]
		parts := strings.Split(field, "|")
		if len(parts) < 3 {
			continue
		}
		g := get(parts[0] + "|" + parts[1])
		switch {
		case len(parts) == 3 && parts[2] == "d":
			g.Decisions, _ = strconv.ParseInt(val, 10, 64)
		case len(parts) == 3 && parts[2] == "c":
			g.Conversions, _ = strconv.ParseInt(val, 10, 64)
		case len(parts) == 3 && parts[2] == "oc":
			g.OfferConversions, _ = strconv.ParseInt(val, 10, 64)
		case len(parts) == 4 && parts[2] == "r":
			g.Revenue[parts[3]], _ = strconv.ParseInt(val, 10, 64)
		case len(parts) == 4 && parts[2] == "q":
			g.RevenueSquares[parts[3]], _ = strconv.ParseFloat(val, 64)
		}
	}
	pipe := c.client.Pipeline()
	since := pipe.Get(ctx, c.key("since"))
	counts := map[string]*redis.IntCmd{}
	for g := range s.Groups {
		counts[g] = pipe.PFCount(ctx, c.key("cust:"+g))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("experiment counters: %w", err)
	}
	if t, err := time.Parse(time.RFC3339, since.Val()); err == nil {
		s.Since = t
	}
	for g, cmd := range counts {
		s.Groups[g].Customers = cmd.Val()
	}
	return s, nil
}
