package memledger

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// fill reserves n decisions that each grant two recorded offers (learning
// on, no hold: what a decision of the example shop keeps in the embedded
// mode for the attribution window), with ULID-sized references.
func fill(tb testing.TB, l *Ledger, n int) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	p := &engine.Plan{Now: t0, CustomerID: "c1", Currency: "USD", Limit: 2, Guardrail: 1 << 40,
		Items: []engine.PlanItem{{OfferID: "x", Record: true, Cell: "at_risk"}, {OfferID: "y", Record: true, Cell: "at_risk"}}}
	for i := range n {
		p.Ref = fmt.Sprintf("01KBHZ%020d", i)
		if _, err := l.Reserve(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkReserveRecords reports what a decision's Reserve costs and the
// live heap each grant record holds.
func BenchmarkReserveRecords(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := New()
	b.ReportAllocs()
	b.ResetTimer()
	fill(b, l, b.N)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(2*b.N), "live-B/record")
	runtime.KeepAlive(l)
}

// BenchmarkRecordsGC measures a full collection of a heap that holds a
// ledger of 1,000,000 grant records (500,000 decisions): what the records
// add to every collection's marking, which runs beside the requests.
func BenchmarkRecordsGC(b *testing.B) {
	l := New()
	fill(b, l, 500_000)
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
	}
	b.StopTimer()
	runtime.KeepAlive(l)
}

// BenchmarkReserveParallel: decisions from every processor at once, each
// walking the example shop's kinds of offers (a per-customer cap in a
// window, a total with a budget, two offers recorded for learning) for
// customers of their own. Run it with -cpu 1,2,4: with one mutex for the
// whole ledger the decisions took turns; with one an offer they meet only
// on the offers they share.
func BenchmarkReserveParallel(b *testing.B) {
	l := New()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var worker atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		ctx := context.Background()
		i := 0
		for pb.Next() {
			i++
			p := &engine.Plan{Now: t0.Add(time.Duration(i) * time.Microsecond), Ref: fmt.Sprintf("01KBH%03d%018d", w, i),
				CustomerID: fmt.Sprintf("c-%d-%d", w, i%1000), Currency: "USD", Limit: 4, Guardrail: 1 << 40,
				Items: []engine.PlanItem{
					{OfferID: fmt.Sprintf("app-%d", i%3), PerCustomer: 1, Window: time.Hour},
					{OfferID: "campaign", Amount: 500, Total: 1 << 40, Budget: 1 << 50, Record: true, Cell: "mid"},
					{OfferID: "shoes", Record: true, Cell: "at_risk"},
					{OfferID: "socks", Record: true, Cell: "at_risk"},
				}}
			if _, err := l.Reserve(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
