package ledger

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestMemorySizing measures, on the real Redis, the memory that grant
// records, holds, journals and Idempotency-Keys take (MEMORY USAGE), for
// docs/budgets.md: 20,000 decisions at 2,000 a second, each granting one
// held offer with a record (and a learning trial), every other one with an
// Idempotency-Key and a 700-byte answer.
func TestMemorySizing(t *testing.T) {
	if os.Getenv(redistest.EnvURL) == "" {
		t.Skip("measures the real Redis (MEMORY USAGE): set " + redistest.EnvURL)
	}
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	l := NewWithOptions(c, Options{Prefix: prefix, Clock: ClockPlan})
	const n, rate = 20000, 2000
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	answer := make([]byte, 700)
	for i := range answer {
		answer[i] = 'a' + byte(i%26)
	}
	var claims []*engine.Claim
	for k := 0; k < n; k++ {
		now := t0.Add(time.Duration(k) * time.Second / rate)
		p := &engine.Plan{Now: now, Ref: ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String(), CustomerID: "c", Currency: "USD",
			Limit: 1, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "first_1000", Amount: 1000, Total: 1 << 40, Budget: 1 << 50, Hold: 30 * time.Minute, Record: true, Cell: "at_risk"}}}
		if k%2 == 0 {
			p.Claim = &engine.Claim{Key: fmt.Sprintf("api-key-digest\n%08d-4b1c-9d2e-checkout-retry", k), Body: [32]byte{1}, TTL: time.Hour}
		}
		if _, err := l.Reserve(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p.Claim != nil {
			claims = append(claims, p.Claim)
		}
	}
	for _, cl := range claims {
		if err := l.StoreAnswer(ctx, cl, answer); err != nil {
			t.Fatal(err)
		}
	}
	usage := func(pattern string) (int64, int) {
		var sum int64
		keys := scanKeys(t, c, pattern)
		for _, k := range keys {
			m, err := c.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				t.Fatal(err)
			}
			sum += m
		}
		return sum, len(keys)
	}
	rec, recKeys := usage(prefix + "rec:{first_1000}:*")
	held, _ := usage(prefix + "offer:{first_1000}:held")
	jrnl, jrnlKeys := usage(prefix + "jrnl:*")
	idem, idemKeys := usage(prefix + "idem:*")
	learn, _ := usage(prefix + "learn:*")
	t.Logf("grant records: %d bytes in %d hashes for %d records: %.1f bytes a record", rec, recKeys, n, float64(rec)/n)
	t.Logf("held set: %.1f bytes a hold (while held)", float64(held)/n)
	t.Logf("journals: %.1f bytes a decision (kept 60 s)", float64(jrnl)/float64(jrnlKeys))
	t.Logf("Idempotency-Keys with a 700-byte answer: %.1f bytes a key", float64(idem)/float64(idemKeys))
	t.Logf("learning counts: %d bytes (one cell, %d days)", learn, 1)
	perDay := float64(rate * 86400)
	t.Logf("at %d decisions/s, one record each: %.1f GB a day of attribution window; held set %.1f MB per 30 min of hold; journals %.1f MB; keys %.1f GB per hour of --idempotency-ttl (all requests with a key)",
		rate, perDay*float64(rec)/n/1e9, float64(rate*1800)*float64(held)/n/1e6, float64(rate*60)*float64(jrnl)/float64(jrnlKeys)/1e6,
		float64(rate*3600)*float64(idem)/float64(idemKeys)/1e9)
}
