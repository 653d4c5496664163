package memledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// TestExpiryQueue: entries pop in the order pushed, only when due, at most
// limit a call, across block boundaries; a queue emptied takes pushes again.
func TestExpiryQueue(t *testing.T) {
	var q expiryQueue[int]
	n := 3*expiryBlock + 17
	for i := range n {
		q.push(int64(i), i)
	}
	if q.len() != n {
		t.Fatalf("len %d, want %d", q.len(), n)
	}
	var got []int
	drop := func(k int) { got = append(got, k) }
	if c := q.popDue(-1, n, drop); c != 0 {
		t.Fatalf("popped %d before anything was due", c)
	}
	if c := q.popDue(int64(expiryBlock+5), 100, drop); c != 100 {
		t.Fatalf("popped %d with a limit of 100", c)
	}
	if c := q.popDue(int64(expiryBlock+5), n, drop); c != expiryBlock+6-100 {
		t.Fatalf("popped %d, want the rest due (%d)", c, expiryBlock+6-100)
	}
	if c := q.popDue(int64(n), n, drop); c != n-expiryBlock-6 {
		t.Fatalf("popped %d, want the rest (%d)", c, n-expiryBlock-6)
	}
	for i, k := range got {
		if k != i {
			t.Fatalf("pop %d gave %d: out of order", i, k)
		}
	}
	if q.len() != 0 || len(q.blocks) != 1 {
		t.Fatalf("emptied queue: len %d, %d blocks (want 0 and the one kept for pushes)", q.len(), len(q.blocks))
	}
	q.push(5, 42)
	got = got[:0]
	if c := q.popDue(5, 10, drop); c != 1 || !slices.Equal(got, []int{42}) {
		t.Fatalf("after emptying: popped %d %v, want [42]", c, got)
	}
}

// TestRecordsExpireByTheirLastUntil: a record is dropped when its latest
// until is due, not at an earlier one it had (the stale entry drops
// nothing), and one whose until comes before an earlier-pushed record's is
// dropped late, never early; a sweep visits nothing while nothing is due,
// however many records are live.
func TestRecordsExpireByTheirLastUntil(t *testing.T) {
	for _, kind := range []struct {
		name string
		ref  func(i int) string
	}{
		{"ulid", func(i int) string { return fmt.Sprintf("01KBHZ%020d", i) }},
		{"short", func(i int) string { return fmt.Sprintf("ref-%d", i) }},
		{"long", func(i int) string { return strings.Repeat("r", maxShortRef) + fmt.Sprint(i) }},
	} {
		t.Run(kind.name, func(t *testing.T) {
			rs := newRecords()
			const live = 10_000
			for i := range live {
				rs.put(kind.ref(i), record{until: 1000 + int64(i)})
			}
			if n := rs.dropUntil(999, 1<<30); n != 0 {
				t.Fatalf("a sweep with nothing due visited %d entries of %d live", n, live)
			}
			// record 0 is moved on (an outcome kept it longer); its first
			// entry falls due and must not drop it.
			rs.put(kind.ref(0), record{until: 50_000})
			// An update (same until) queues nothing.
			rs.update(kind.ref(1), record{until: 1001, state: stateCommitted})
			if got, want := queued(&rs), live+1; got != want {
				t.Fatalf("%d entries queued, want %d", got, want)
			}
			if n := rs.dropUntil(1000+live, 1<<30); n != live {
				t.Fatalf("visited %d entries, want %d", n, live)
			}
			if _, ok := rs.get(kind.ref(0)); !ok || rs.len() != 1 {
				t.Fatalf("after the first window: %d records, record 0 kept %v; want only record 0", rs.len(), ok)
			}
			// An until earlier than one pushed before it waits behind it.
			rs.put(kind.ref(7), record{until: 20_000})
			if rs.dropUntil(30_000, 1<<30); rs.len() != 2 {
				t.Fatalf("%d records at 30000, want 2: record 7 is behind record 0's entry", rs.len())
			}
			if rs.dropUntil(50_000, 1<<30); rs.len() != 0 {
				t.Fatalf("%d records at 50000, want none", rs.len())
			}
		})
	}
}

func queued(rs *records) int { return rs.ulidQ.len() + rs.shortQ.len() + rs.longQ.len() }

// TestClaimsExpireFromTheirQueue: expired claims leave the ledger at the
// sweeps, a claim made again after its expiry is kept until its new one,
// and a released claim's entry drops nothing.
func TestClaimsExpireFromTheirQueue(t *testing.T) {
	ctx := context.Background()
	l := New()
	claim := func(at time.Time, key string) *engine.Claim {
		t.Helper()
		c := &engine.Claim{Key: key, TTL: time.Minute}
		if _, err := l.Reserve(ctx, &engine.Plan{Now: at, CustomerID: "c", Currency: "EUR", Claim: c}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := range 100 {
		claim(t0, fmt.Sprint("k", i))
	}
	claim(t0.Add(2*time.Minute), "k0") // k0 again, after its expiry
	sweep := func(at time.Time) {
		l.nextSweep.Store(0)
		l.maintain(at.UnixMilli())
	}
	sweep(t0.Add(2 * time.Minute))
	if len(l.claims) != 1 || l.claims["k0"] == nil {
		t.Fatalf("%d claims after the first minute, want k0 alone", len(l.claims))
	}
	sweep(t0.Add(3*time.Minute + time.Millisecond))
	if len(l.claims) != 0 {
		t.Fatalf("%d claims left", len(l.claims))
	}
	if l.claimQ.len() != 0 {
		t.Fatalf("%d entries left in the claims' queue", l.claimQ.len())
	}
}

// BenchmarkReserveSlowestCall reports the slowest of the Reserve calls that
// follow 1,000,000 live grant records (500,000 decisions, the attribution
// window of a busy shop): a sweep of every record, which held the ledger's
// mutex (then its only one) for milliseconds, shows here as the slowest
// call.
func BenchmarkReserveSlowestCall(b *testing.B) {
	l := New()
	fill(b, l, 500_000)
	ctx := context.Background()
	p := &engine.Plan{Now: t0.Add(time.Hour), CustomerID: "c1", Currency: "USD", Limit: 2, Guardrail: 1 << 40,
		Items: []engine.PlanItem{{OfferID: "x", Record: true, Cell: "at_risk"}, {OfferID: "y", Record: true, Cell: "at_risk"}}}
	var slowest time.Duration
	b.ResetTimer()
	for i := range b.N {
		p.Ref = fmt.Sprintf("01KBJ0%020d", i)
		start := time.Now()
		if _, err := l.Reserve(ctx, p); err != nil {
			b.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	b.ReportMetric(float64(slowest.Microseconds()), "slowest-µs")
}
