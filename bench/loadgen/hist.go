package loadgen

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histograms record microseconds, from 1 µs to an hour, to three
// significant digits (an error below 0.1% at every value). An open loop
// runs up to five minutes (-open-duration) and charges each request the
// wait since its intended start, so a request behind a stalled server can
// read minutes: the range holds any such wait (a one-minute ceiling made
// every longer one read as a minute, in max and p99.9).
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

// NewHistogram returns an empty latency histogram (values in microseconds).
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// Record adds d to h, clamped to the histogram's range (1 µs to an hour).
func Record(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histLowest {
		us = histLowest
	}
	if us > histHighest {
		us = histHighest
	}
	_ = h.RecordValue(us) // cannot fail: the value is in range
}

// Percentiles are latency figures in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p99_9_us"`
	Max   int64   `json:"max_us"`
	Mean  float64 `json:"mean_us"`
}

// Summarize returns h's percentiles (all zero when h is empty).
func Summarize(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	v := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9})
	return Percentiles{
		Count: h.TotalCount(),
		P50:   v[50], P90: v[90], P99: v[99], P999: v[99.9],
		Max:  h.Max(),
		Mean: h.Mean(),
	}
}
