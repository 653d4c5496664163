package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// BenchmarkReserve: one decision's reservation (three capped offers), against
// the real Redis when ARBITER_TEST_REDIS_URL is set, else miniredis.
func BenchmarkReserve(b *testing.B) {
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		b.Run(fmt.Sprint("mode=", mode), func(b *testing.B) {
			c, prefix, real := redistest.Client(b)
			b.Logf("real redis: %v", real)
			l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode})
			now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := &engine.Plan{Now: now, CustomerID: "c" + strconv.Itoa(i%1000), Currency: "USD", Limit: 2, Guardrail: 1 << 40,
					Items: []engine.PlanItem{
						{OfferID: "vip", Group: "d", Amount: 1250, PerCustomer: 1, Window: 24 * time.Hour, Budget: 1 << 40},
						{OfferID: "first", Group: "d", Amount: 500, Total: 1 << 40},
						{OfferID: "loyalty", PerCustomer: 3},
					}}
				if _, err := l.Reserve(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			l.Wait()
		})
	}
}

// BenchmarkWalkScriptRedisCPU: the Redis server's own time for one walk
// (ModeScript) of an eight-item plan like the checkout's (three capped
// offers, five recorded grants, three plain items), read from INFO
// commandstats as redis-µs/op: what a decision costs the one thread of a
// fleet's Redis. Only against the real Redis (ARBITER_TEST_REDIS_URL):
// miniredis runs the script in the benchmark's own process.
func BenchmarkWalkScriptRedisCPU(b *testing.B) {
	c, prefix, real := redistest.Client(b)
	if !real {
		b.Skip("needs the real Redis (ARBITER_TEST_REDIS_URL): the figure is the Redis server's time")
	}
	ctx := context.Background()
	l := NewWithOptions(c, Options{Prefix: prefix, Mode: ModeScript, RecordTTL: time.Hour})
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	items := []engine.PlanItem{
		{OfferID: "vip", Group: "d", Amount: 1250, PerCustomer: 1, Window: 24 * time.Hour, Budget: 1 << 40, Record: true},
		{OfferID: "first", Group: "d", Amount: 500, Total: 1 << 40, Record: true},
		{OfferID: "loyalty", PerCustomer: 3, Record: true},
		{OfferID: "shipping", Record: true}, {OfferID: "bundle", Record: true},
		{OfferID: "newsletter"}, {OfferID: "recommend"}, {OfferID: "app"},
	}
	before, err := evalshaStats(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &engine.Plan{Now: now, CustomerID: "c" + strconv.Itoa(i), Ref: "r" + strconv.Itoa(i), Currency: "USD",
			Limit: 3, Guardrail: 1 << 40, Items: items}
		if _, err := l.Reserve(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after, err := evalshaStats(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	if calls := after.calls - before.calls; calls > 0 {
		b.ReportMetric(float64(after.usec-before.usec)/float64(calls), "redis-µs/op")
	}
}

type cmdStats struct{ calls, usec int64 }

// evalshaStats reads EVALSHA's line of INFO commandstats.
func evalshaStats(ctx context.Context, c redis.UniversalClient) (cmdStats, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return cmdStats{}, err
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		var s cmdStats
		if _, err := fmt.Sscanf(rest, "calls=%d,usec=%d,", &s.calls, &s.usec); err != nil {
			return cmdStats{}, fmt.Errorf("commandstats %q: %w", line, err)
		}
		return s, nil
	}
	return cmdStats{}, nil
}
