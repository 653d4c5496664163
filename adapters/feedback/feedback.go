// Package feedback keeps per-offer feedback statistics in Redis
// (impressions, acceptances, dismissals, conversions, cancellations and
// revenue, per offer and per experiment variant), written from the outcome
// events of NATS by a durable JetStream consumer: off the decision hot
// path, and the same path for outcomes posted to Arbiter's HTTP API and
// for outcomes other services publish on NATS themselves. With a Checker
// (GrantChecker), every outcome is checked first as the API checks it (its
// signed decision id, the decision's own variants, its transitions of
// grant records): a refused outcome is never counted.
//
// Redis layout (prefix default "arbiter:"):
//
//	arbiter:stats:offer:{OFFER_ID}        hash, one per offer:
//	    impression, accepted, dismissed, converted,    counts of outcomes
//	    cancelled
//	    revenue:<CUR>                                  sum of converted values, minor units of CUR
//	                                                   (a cancellation does not take it back)
//	    exp:<EXPERIMENT>:<VARIANT>:<type>              the same counts per variant
//	    exp:<EXPERIMENT>:<VARIANT>:revenue:<CUR>       the same revenue per variant
//	arbiter:stats:seen:{OFFER_ID}:<EVENT_ID>  "1", expires after DedupTTL: the outcome
//	    was counted (at-least-once delivery is made exactly-once per event)
//
// The braces are a Redis Cluster hash tag: an offer's hash and its seen
// keys live in one slot, so one script updates them atomically.
package feedback

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// DedupTTL is how long an outcome's id is remembered once counted: longer
// than any redelivery (the consumer's ack wait is 30 s) and than the
// stream's duplicate window.
const DedupTTL = time.Hour

// Recorder writes outcome statistics to Redis. It is safe for concurrent
// use.
type Recorder struct {
	client redis.UniversalClient
	prefix string
}

// NewRecorder returns a Recorder writing under prefix ("" means
// "arbiter:").
func NewRecorder(client redis.UniversalClient, prefix string) *Recorder {
	if prefix == "" {
		prefix = "arbiter:"
	}
	return &Recorder{client: client, prefix: prefix}
}

// OfferKey is the hash holding an offer's statistics.
func (r *Recorder) OfferKey(offerID string) string {
	return r.prefix + "stats:offer:{" + offerID + "}"
}

func (r *Recorder) seenKey(offerID, eventID string) string {
	return r.prefix + "stats:seen:{" + offerID + "}:" + eventID
}

// recordScript counts one outcome once.
// KEYS[1] the offer's hash, KEYS[2] the seen key.
// ARGV[1] dedup ("1": check and set KEYS[2]), ARGV[2] TTL in seconds,
// ARGV[3] outcome type, ARGV[4] currency ("" when no revenue),
// ARGV[5] value in minor units, ARGV[6..] "exp:<EXPERIMENT>:<VARIANT>" prefixes.
var recordScript = redis.NewScript(`
if ARGV[1] == "1" then
  if not redis.call("SET", KEYS[2], "1", "NX", "EX", ARGV[2]) then return 0 end
end
redis.call("HINCRBY", KEYS[1], ARGV[3], 1)
if ARGV[4] ~= "" then redis.call("HINCRBY", KEYS[1], "revenue:" .. ARGV[4], ARGV[5]) end
for i = 6, #ARGV do
  redis.call("HINCRBY", KEYS[1], ARGV[i] .. ":" .. ARGV[3], 1)
  if ARGV[4] ~= "" then redis.call("HINCRBY", KEYS[1], ARGV[i] .. ":revenue:" .. ARGV[4], ARGV[5]) end
end
return 1
`)

// Record counts the outcome ev in its offer's statistics, once per
// dedupID (""  disables deduplication). It reports whether the outcome was
// counted now (false: it was counted before, or it names no offer).
// Revenue is the value of converted outcomes, per currency.
func (r *Recorder) Record(ctx context.Context, ev *wire.OutcomeEvent, dedupID string) (bool, error) {
	if ev.OfferID == "" {
		return false, nil
	}
	dedup := "0"
	if dedupID != "" {
		dedup = "1"
	}
	cur, minor := "", int64(0)
	if ev.Outcome == wire.OutcomeConverted && ev.Currency != "" {
		cur, minor = ev.Currency, ev.Value.Minor
	}
	args := make([]any, 0, 5+len(ev.Experiments))
	args = append(args, dedup, int64(DedupTTL/time.Second), ev.Outcome, cur, minor)
	for _, a := range ev.Experiments {
		args = append(args, "exp:"+a.ID+":"+a.Variant)
	}
	n, err := recordScript.Run(ctx, r.client, []string{r.OfferKey(ev.OfferID), r.seenKey(ev.OfferID, dedupID)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("feedback: record outcome %s of offer %s: %w", dedupID, ev.OfferID, err)
	}
	return n == 1, nil
}

// Counts are the outcome counts of an offer or a variant, with the revenue
// of its conversions per currency.
type Counts struct {
	Impressions int64                   `json:"impressions"`
	Accepted    int64                   `json:"accepted"`
	Dismissed   int64                   `json:"dismissed"`
	Converted   int64                   `json:"converted"`
	Cancelled   int64                   `json:"cancelled"`
	Revenue     map[string]engine.Money `json:"revenue"`
}

// VariantCounts are an offer's counts for the customers of one variant.
type VariantCounts struct {
	Experiment string `json:"experiment"`
	Variant    string `json:"variant"`
	Counts
}

// OfferStats are an offer's statistics.
type OfferStats struct {
	OfferID  string          `json:"offer_id"`
	Counts                   // every outcome of the offer
	Variants []VariantCounts `json:"variants"` // sorted by experiment, variant
}

// Offer reads an offer's statistics (zero counts when there are none).
func (r *Recorder) Offer(ctx context.Context, offerID string) (*OfferStats, error) {
	h, err := r.client.HGetAll(ctx, r.OfferKey(offerID)).Result()
	if err != nil {
		return nil, fmt.Errorf("feedback: read statistics of offer %s: %w", offerID, err)
	}
	st := &OfferStats{OfferID: offerID, Counts: Counts{Revenue: map[string]engine.Money{}}, Variants: []VariantCounts{}}
	vars := map[string]*VariantCounts{}
	for field, val := range h {
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			continue
		}
		c := &st.Counts
		if rest, ok := strings.CutPrefix(field, "exp:"); ok {
			// <EXPERIMENT>:<VARIANT>:<type> or <EXPERIMENT>:<VARIANT>:revenue:<CUR>
			parts := strings.Split(rest, ":")
			if len(parts) < 3 {
				continue
			}
			k := parts[0] + ":" + parts[1]
			v := vars[k]
			if v == nil {
				v = &VariantCounts{Experiment: parts[0], Variant: parts[1], Counts: Counts{Revenue: map[string]engine.Money{}}}
				vars[k] = v
			}
			c = &v.Counts
			field = strings.Join(parts[2:], ":")
		}
		c.add(field, n)
	}
	for _, v := range vars {
		st.Variants = append(st.Variants, *v)
	}
	sort.Slice(st.Variants, func(i, j int) bool {
		a, b := st.Variants[i], st.Variants[j]
		return a.Experiment < b.Experiment || a.Experiment == b.Experiment && a.Variant < b.Variant
	})
	return st, nil
}

func (c *Counts) add(field string, n int64) {
	switch field {
	case wire.OutcomeImpression:
		c.Impressions = n
	case wire.OutcomeAccepted:
		c.Accepted = n
	case wire.OutcomeDismissed:
		c.Dismissed = n
	case wire.OutcomeConverted:
		c.Converted = n
	case wire.OutcomeCancelled:
		c.Cancelled = n
	default:
		if cur, ok := strings.CutPrefix(field, "revenue:"); ok {
			exp, valid := engine.CurrencyExp(cur)
			if valid {
				c.Revenue[cur] = engine.Money{Minor: n, Exp: exp}
			}
		}
	}
}
