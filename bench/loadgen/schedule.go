package loadgen

import (
	"fmt"
	"time"
)

// Schedule is an open-loop arrival schedule: N requests at a fixed rate,
// the i-th (from 0) intended to start at Start + i/Rate. Latency is
// measured from the intended start, so a server that stalls is charged for
// every request that should have been sent meanwhile (no coordinated
// omission).
type Schedule struct {
	Start time.Time
	Rate  float64 // requests per second
	N     int64
}

// NewSchedule returns the schedule of rate requests per second for d,
// starting at start: N = floor(rate × d) requests.
func NewSchedule(start time.Time, rate float64, d time.Duration) (Schedule, error) {
	if !(rate > 0) || rate > 10_000_000 {
		return Schedule{}, fmt.Errorf("loadgen: an open-loop rate of %g requests/s is out of range (0 < rate <= 1e7)", rate)
	}
	if d <= 0 {
		return Schedule{}, fmt.Errorf("loadgen: an open-loop run of %s is not positive", d)
	}
	return Schedule{Start: start, Rate: rate, N: int64(rate * d.Seconds())}, nil
}

// At is the intended start of request i (0 <= i < N).
func (s Schedule) At(i int64) time.Time {
	// i * 1e9 / rate in float64 is exact to the nanosecond for any i and
	// rate this harness uses (i < 2^40): no drift accumulates, unlike adding
	// an interval N times.
	return s.Start.Add(time.Duration(float64(i) * 1e9 / s.Rate))
}

// End is when the last request is intended to start.
func (s Schedule) End() time.Time {
	if s.N == 0 {
		return s.Start
	}
	return s.At(s.N - 1)
}

// Due is the number of requests whose intended start is at or before t.
func (s Schedule) Due(t time.Time) int64 {
	if t.Before(s.Start) {
		return 0
	}
	n := int64(t.Sub(s.Start).Seconds()*s.Rate) + 1
	// Correct the float rounding at the boundaries.
	for n > 0 && s.At(n-1).After(t) {
		n--
	}
	for n < s.N && !s.At(n).After(t) {
		n++
	}
	if n > s.N {
		n = s.N
	}
	return n
}
