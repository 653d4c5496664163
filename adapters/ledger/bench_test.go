package ledger

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

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
