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
//	arbiter:xs:{experiments}:seen:<STREAM>:<N>  bitmap: bit s of chunk N = s/2^20 is set once
//	    stream sequence N·2^20+s is counted (each event counts once however often it is
//	    delivered); expires an hour after the chunk's first event
package expcounters

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
	// Attribute checks an outcome Arbiter did not verify itself (one
	// published by another service: "verified" false) as the feedback
	// consumer does (package attribution: a decision the fleet signed, for
	// this customer, within the attribution window): ok false for an
	// outcome attribution refuses, which then counts nowhere; else the
	// decision's own variants read from its signed id, which replace the
	// event's. Outcomes Arbiter verified already carry those variants. nil:
	// every outcome counts in the variants it carries.
	Attribute func(o *wire.OutcomeEvent) (variants []wire.Assignment, ok bool)
}

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

// recordScript counts the events of a batch that were not counted before,
// in one call: it sets each event's seen bit and adds up, per group, the
// events whose bit was not set yet; then one HINCRBY per group and field,
// one PFADD per group with the batch's customers, one SET NX of the since
// key and one TTL per seen chunk written. The seen bits of a chunk are read
// with one GETRANGE and written with one SETRANGE when the batch's
// sequences in it span at most 32768 (a batch is mostly consecutive
// sequences), else with one SETBIT per event. It returns how many events
// it counted.
//
// KEYS[1] counts, KEYS[2] since, KEYS[3..2+C] the seen chunks, KEYS[3+C..]
// the groups' HLLs.
// ARGV[1] TTL s, ARGV[2] the since time, ARGV[3] C, ARGV[4] G, ARGV[5..4+G]
// the groups; then each chunk's lowest and highest bit; then S, the number
// of group sets, and each set as its size and its groups' numbers
// (1-based); then the events, each as what ("d", "c" or "oc"), chunk
// number, bit, group set number, and for "d" the customer, for "c" the
// currency ("" for none), minor units and the square of the value in major
// units.
var recordScript = redis.NewScript(`
local nc, ng = tonumber(ARGV[3]), tonumber(ARGV[4])
local p = 5 + ng
local from, bytes, changed = {}, {}, {}
for k = 1, nc do
  local lo, hi = math.floor(tonumber(ARGV[p]) / 8), math.floor(tonumber(ARGV[p + 1]) / 8)
  p = p + 2
  if hi - lo < 4096 then
    local s = redis.call("GETRANGE", KEYS[2 + k], lo, hi)
    local t = {string.byte(s, 1, #s)}
    for i = #s + 1, hi - lo + 1 do t[i] = 0 end
    from[k], bytes[k] = lo, t
  end
end
local nsets = tonumber(ARGV[p]); p = p + 1
local sets, d, c, oc, custs, rev = {}, {}, {}, {}, {}, {}
for s = 1, nsets do
  local n = tonumber(ARGV[p]); p = p + 1
  local t = {}
  for j = 1, n do t[j] = tonumber(ARGV[p]); p = p + 1 end
  sets[s], d[s], c[s], oc[s], custs[s], rev[s] = t, 0, 0, 0, {}, {}
end
local written, counted = {}, 0
while p <= #ARGV do
  local what, chunk, s = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 3])
  local new
  local t = bytes[chunk]
  if t then
    local bit = tonumber(ARGV[p + 2])
    local i, mask = math.floor(bit / 8) - from[chunk] + 1, 2 ^ (7 - bit % 8)
    new = math.floor(t[i] / mask) % 2 == 0
    if new then t[i] = t[i] + mask; changed[chunk] = true end
  else
    new = redis.call("SETBIT", KEYS[2 + chunk], ARGV[p + 2], 1) == 0
  end
  if new then counted = counted + 1; written[chunk] = true end
  if what == "d" then
    if new then d[s] = d[s] + 1; local l = custs[s]; l[#l + 1] = ARGV[p + 4] end
    p = p + 5
  elseif what == "c" then
    if new then
      c[s] = c[s] + 1
      local cur = ARGV[p + 4]
      if cur ~= "" then
        local r = rev[s][cur]
        if r == nil then r = {0, 0}; rev[s][cur] = r end
        r[1] = r[1] + tonumber(ARGV[p + 5]); r[2] = r[2] + tonumber(ARGV[p + 6])
      end
    end
    p = p + 7
  else
    if new then oc[s] = oc[s] + 1 end
    p = p + 4
  end
end
for k in pairs(changed) do
  redis.call("SETRANGE", KEYS[2 + k], from[k], string.char(unpack(bytes[k])))
end
if counted == 0 then return 0 end
for chunk in pairs(written) do
  if redis.call("TTL", KEYS[2 + chunk]) < 0 then redis.call("EXPIRE", KEYS[2 + chunk], ARGV[1]) end
end
redis.call("SET", KEYS[2], ARGV[2], "NX")
local gd, gc, goc, gcust, grev = {}, {}, {}, {}, {}
for g = 1, ng do gd[g], gc[g], goc[g], gcust[g], grev[g] = 0, 0, 0, {}, {} end
for s = 1, nsets do
  for _, g in ipairs(sets[s]) do
    gd[g], gc[g], goc[g] = gd[g] + d[s], gc[g] + c[s], goc[g] + oc[s]
    local l = gcust[g]
    for _, cust in ipairs(custs[s]) do l[#l + 1] = cust end
    for cur, r in pairs(rev[s]) do
      local t = grev[g][cur]
      if t == nil then t = {0, 0}; grev[g][cur] = t end
      t[1] = t[1] + r[1]; t[2] = t[2] + r[2]
    end
  end
end
for g = 1, ng do
  local name = ARGV[4 + g]
  if gd[g] > 0 then redis.call("HINCRBY", KEYS[1], name .. "|d", gd[g]) end
  if gc[g] > 0 then redis.call("HINCRBY", KEYS[1], name .. "|c", gc[g]) end
  if goc[g] > 0 then redis.call("HINCRBY", KEYS[1], name .. "|oc", goc[g]) end
  if #gcust[g] > 0 then redis.call("PFADD", KEYS[2 + nc + g], unpack(gcust[g])) end
  for cur, t in pairs(grev[g]) do
    redis.call("HINCRBY", KEYS[1], name .. "|r|" .. cur, string.format("%d", t[1]))
    redis.call("HINCRBYFLOAT", KEYS[1], name .. "|q|" .. cur, string.format("%.17g", t[2]))
  end
end
return counted
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

// RecordBatch counts each event of evs once, in one script call (none
// when no event counts in any group): an event counted before (a
// redelivery, or one repeated in evs) counts nothing. It returns how many
// events it counted now; on an error it counted none.
func (c *Counters) RecordBatch(ctx context.Context, evs []Event) (int, error) {
	var b batch
	for i := range evs {
		c.add(&b, &evs[i])
	}
	if b.events == 0 {
		return 0, nil
	}
	keys := make([]string, 0, 2+len(b.chunks)+len(b.groups))
	keys = append(keys, c.key("counts"), c.key("since"))
	for _, ch := range b.chunks {
		keys = append(keys, c.key("seen:"+ch.stream+":"+strconv.FormatUint(ch.n, 10)))
	}
	args := make([]any, 0, 5+len(b.groups)+1+len(b.setArgs)+len(b.evArgs))
	args = append(args, int64(SeenTTL/time.Second), b.since.UTC().Format(time.RFC3339), len(b.chunks), len(b.groups))
	for _, g := range b.groups {
		keys = append(keys, c.key("cust:"+g))
		args = append(args, g)
	}
	for _, ch := range b.chunks {
		args = append(args, ch.lo, ch.hi)
	}
	args = append(args, len(b.sets))
	args = append(args, b.setArgs...)
	args = append(args, b.evArgs...)
	n, err := recordScript.Run(ctx, c.client, keys, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("experiment counters: %w", err)
	}
	return n, nil
}

// batch is the arguments of one recordScript call being built.
type batch struct {
	events  int
	since   time.Time // the earliest stored time of the events
	chunks  []chunk
	groups  []string
	groupOf map[string]int // group -> its number (1-based)
	sets    map[string]int // its groups' numbers, as bytes -> set number
	setArgs []any
	evArgs  []any
	scratch []byte
	members []int
}

type chunk struct {
	stream string
	n      uint64
	lo, hi uint64 // the lowest and highest bits of the batch in it
}

// group returns the number of group g, written in b.scratch[from:].
func (b *batch) group(from int) int {
	name := b.scratch[from:]
	if n, ok := b.groupOf[string(name)]; ok {
		return n
	}
	if b.groupOf == nil {
		b.groupOf = map[string]int{}
	}
	g := string(name)
	b.groups = append(b.groups, g)
	b.groupOf[g] = len(b.groups)
	return len(b.groups)
}

func (b *batch) assignment(a wire.Assignment) {
	b.scratch = append(append(append(b.scratch[:0], a.ID...), '|'), a.Variant...)
	b.members = append(b.members, b.group(0))
}

func (b *batch) named(g string) {
	b.scratch = append(b.scratch[:0], g...)
	b.members = append(b.members, b.group(0))
}

// set returns the number of the set of groups b.members.
func (b *batch) set() int {
	b.scratch = b.scratch[:0]
	for _, m := range b.members {
		b.scratch = strconv.AppendInt(append(b.scratch, ','), int64(m), 10)
	}
	if n, ok := b.sets[string(b.scratch)]; ok {
		return n
	}
	if b.sets == nil {
		b.sets = map[string]int{}
	}
	b.sets[string(b.scratch)] = len(b.sets) + 1
	b.setArgs = append(b.setArgs, len(b.members))
	for _, m := range b.members {
		b.setArgs = append(b.setArgs, m)
	}
	return len(b.sets)
}

// add adds ev to b, unless it counts in no group.
func (c *Counters) add(b *batch, ev *Event) {
	b.members = b.members[:0]
	var what string
	var extra []any
	switch {
	case ev.Decision != nil:
		d := ev.Decision
		if d.CustomerID == "" {
			return
		}
		for _, a := range d.Experiments {
			b.assignment(a)
		}
		if d.Holdout {
			b.named(HoldoutHeldOut)
		} else {
			b.named(HoldoutServed)
		}
		what, extra = "d", []any{d.CustomerID}
	case ev.Outcome != nil && ev.Outcome.Outcome == wire.OutcomeConverted:
		o := ev.Outcome
		exps := o.Experiments
		if c.Attribute != nil && !o.Verified {
			var ok bool
			if exps, ok = c.Attribute(o); !ok {
				return
			}
		}
		for _, a := range exps {
			b.assignment(a)
		}
		if g := c.holdoutGroup(o); g != "" {
			b.named(g)
		}
		what = "oc"
		if o.OfferID == "" {
			what, extra = "c", []any{"", "0", "0"}
			if o.Currency != "" {
				m := o.Value.Major()
				extra = []any{o.Currency, strconv.FormatInt(o.Value.Minor, 10), strconv.FormatFloat(m*m, 'g', -1, 64)}
			}
		}
	default:
		return
	}
	if len(b.members) == 0 {
		return
	}
	set := b.set()
	n, bit := ev.Sequence/chunkBits, ev.Sequence%chunkBits
	ci := 0
	for i := range b.chunks {
		if ch := &b.chunks[i]; ch.stream == ev.Stream && ch.n == n {
			ci = i + 1
			ch.lo, ch.hi = min(ch.lo, bit), max(ch.hi, bit)
			break
		}
	}
	if ci == 0 {
		b.chunks = append(b.chunks, chunk{stream: ev.Stream, n: n, lo: bit, hi: bit})
		ci = len(b.chunks)
	}
	if b.events == 0 || ev.Stored.Before(b.since) {
		b.since = ev.Stored
	}
	b.events++
	b.evArgs = append(b.evArgs, what, ci, bit, set)
	b.evArgs = append(b.evArgs, extra...)
}

// holdoutGroup is the holdout group of an outcome's decision: from its
// signed id, else from HoldoutOf.
func (c *Counters) holdoutGroup(o *wire.OutcomeEvent) string {
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
