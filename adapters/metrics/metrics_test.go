package metrics

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestCountersFromManyGoroutines: decisions and grants counted from
// goroutines that race to add the same label values end up each in its
// own series, every count there once.
func TestCountersFromManyGoroutines(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				m.Granted("offer_" + strconv.Itoa(i%5))
				m.Decision([]string{"checkout", "cart"}[i%2], []string{ResultOK, ResultDegraded, ResultInvalid}[(i+g)%3], 0)
			}
		}()
	}
	wg.Wait()
	got := scrape(t, m, "arbiter_grants_total") + scrape(t, m, "arbiter_decisions_total")
	for i := range 5 {
		if want := "arbiter_grants_total{offer=offer_" + strconv.Itoa(i) + "} 480"; !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if want := "arbiter_decisions_total{placement=cart,result=ok} 400"; !strings.Contains(got, want) {
		t.Errorf("missing %q in\n%s", want, got)
	}
	if n := strings.Count(got, "arbiter_decisions_total{"); n != 6 {
		t.Errorf("%d decision series, want 6:\n%s", n, got)
	}
}

// BenchmarkCountDecision: what a decision's counters cost, from
// concurrent requests, through the cache (counters) against prometheus's
// WithLabelValues on each call.
func BenchmarkCountDecision(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		m := New()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Decision("checkout", ResultOK, 0)
				m.Granted("free_shipping_75")
				m.Granted("spend_and_save")
			}
		})
	})
	b.Run("with-label-values", func(b *testing.B) {
		m := New()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.decisions.vec.WithLabelValues("checkout", ResultOK).Inc()
				m.grants.vec.WithLabelValues("free_shipping_75").Inc()
				m.grants.vec.WithLabelValues("spend_and_save").Inc()
			}
		})
	})
}
