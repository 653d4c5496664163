package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestSummarizeKnownData(t *testing.T) {
	h := NewHistogram()
	// 1 µs .. 10000 µs, once each: the p-th percentile is p% of 10000.
	for v := 1; v <= 10000; v++ {
		Record(h, time.Duration(v)*time.Microsecond)
	}
	p := Summarize(h)
	tests := []struct {
		name      string
		got, want int64
	}{
		{"p50", p.P50, 5000},
		{"p90", p.P90, 9000},
		{"p99", p.P99, 9900},
		{"p99.9", p.P999, 9990},
		{"max", p.Max, 10000},
	}
	for _, tt := range tests {
		// Three significant digits: within 0.1% (one bucket) of the value.
		if math.Abs(float64(tt.got-tt.want)) > float64(tt.want)/1000+1 {
			t.Errorf("%s = %d µs, want %d µs ± 0.1%%", tt.name, tt.got, tt.want)
		}
	}
	if p.Count != 10000 {
		t.Errorf("count = %d, want 10000", p.Count)
	}
	if math.Abs(p.Mean-5000.5) > 5 {
		t.Errorf("mean = %g, want about 5000.5", p.Mean)
	}
}

func TestSummarizeSkewed(t *testing.T) {
	// 990 fast answers and 10 stalls: p99 must land on the fast side and
	// p99.9 and max on the stall.
	h := NewHistogram()
	for i := 0; i < 990; i++ {
		Record(h, 200*time.Microsecond)
	}
	for i := 0; i < 10; i++ {
		Record(h, 2*time.Second)
	}
	p := Summarize(h)
	if p.P50 != 200 || p.P99 != 200 {
		t.Errorf("p50, p99 = %d, %d µs; want 200, 200", p.P50, p.P99)
	}
	if p.P999 < 1_998_000 || p.Max < 1_998_000 {
		t.Errorf("p99.9, max = %d, %d µs; want about 2 s", p.P999, p.Max)
	}
}

func TestRecordClamps(t *testing.T) {
	h := NewHistogram()
	Record(h, 0)
	Record(h, -time.Second)
	Record(h, 2*time.Hour)
	p := Summarize(h)
	if p.Count != 3 {
		t.Fatalf("count = %d, want 3 (out-of-range values clamped, not lost)", p.Count)
	}
	if p.Max < histHighest-histHighest/1000 {
		t.Errorf("max = %d, want about %d (an hour)", p.Max, histHighest)
	}
	if (Summarize(NewHistogram()) != Percentiles{}) {
		t.Error("an empty histogram should summarise to zeros")
	}
}

// TestRecordKeepsLongWaits: an open loop may run five minutes
// (-open-duration's bound), and a request that waited minutes behind a
// stalled server must read as that long, not as the histogram's old
// one-minute ceiling.
func TestRecordKeepsLongWaits(t *testing.T) {
	for _, d := range []time.Duration{90 * time.Second, 3 * time.Minute, 5*time.Minute + 5*time.Second} {
		h := NewHistogram()
		Record(h, time.Millisecond)
		Record(h, d)
		got := Summarize(h).Max
		want := d.Microseconds()
		if math.Abs(float64(got-want)) > float64(want)/1000 {
			t.Errorf("a wait of %s: max = %d µs, want %d µs ± 0.1%%", d, got, want)
		}
	}
}
