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
	// VariantsOf maps the variant codes of a signed decision id
	// (decisionid.VariantCode) back to experiment variants, for outcomes
	// that carry no experiments (published by other services); nil: such
	// outcomes count in no variant.
	VariantsOf func(codes []uint32) []wire.Assignment
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

// recordScript counts one event once.
// KEYS[1] counts, KEYS[2] seen chunk, KEYS[3] since, KEYS[4..] the groups' HLLs.
// ARGV[1] bit, ARGV[2] TTL s, ARGV[3] ts, ARGV[4] what ("d", "c" or "oc"),
// ARGV[5] customer, ARGV[6] currency, ARGV[7] minor units, ARGV[8] square
// of the value in major units, ARGV[9..] the groups.
var recordScript = redis.NewScript(`
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

// Event is what the counters read of one event of the stream: its stream
// and sequence (which make a redelivery count once) and the decision or
// the outcome.
type Event struct {
	Stream   string
	Sequence uint64
	Stored   time.Time
	Decision *wire.DecisionEvent
	Outcome  *wire.OutcomeEvent
}

// Record counts ev once; it reports whether it counted it now.
func (c *Counters) Record(ctx context.Context, ev Event) (bool, error) {
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
		if len(exps) == 0 && c.VariantsOf != nil {
			if d, ok := decisionid.Parse(o.DecisionID); ok && len(d.Codes) > 0 {
				exps = c.VariantsOf(d.Codes)
			}
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
	n, err := recordScript.Run(ctx, c.client, keys, args...).Int()
	if err != nil {
		return false, fmt.Errorf("experiment counters: %w", err)
	}
	return n == 1, nil
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
