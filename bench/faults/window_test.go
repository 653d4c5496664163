package main

import (
	"testing"
	"time"
)

// The latency "while Redis was away" must count every request a fault
// touched: above all the ones it held up past its end (a request that
// hung with Redis until SIGCONT), which are the slowest. Counted in the
// baseline instead, they hid from the figure and raised the tolerance
// the check allows.
func TestWindowOverlaps(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	closed := window{from: at(1000), to: at(4000), back: at(4000)}
	open := window{from: at(1000)}
	// killed, restarted at 4000, answering again at 4500
	restarting := window{from: at(1000), to: at(4000)}
	restarted := window{from: at(1000), to: at(4000), back: at(4500)}
	for _, c := range []struct {
		name       string
		w          window
		start, end int
		overlaps   bool
		covers     bool
	}{
		{"before the fault", closed, 0, 10, false, false},
		{"after the fault", closed, 4100, 4110, false, false},
		{"inside the fault", closed, 2000, 2010, true, true},
		{"held up by the fault past its end", closed, 3000, 4500, true, false},
		{"held up for the whole fault", closed, 900, 4100, true, false},
		{"caught by the start of the fault", closed, 990, 1040, true, false},
		{"fault still on", open, 2000, 9000, true, true},
		{"restarted, not answering yet", restarting, 4100, 4110, true, false},
		{"restarted, before it answered", restarted, 4100, 4110, true, false},
		{"restarted, after it answered", restarted, 4600, 4610, false, false},
		{"fault not begun", window{}, 2000, 2010, false, false},
	} {
		s := &sample{start: at(c.start), end: at(c.end)}
		if got := c.w.overlaps(s); got != c.overlaps {
			t.Errorf("%s: overlaps = %v, want %v", c.name, got, c.overlaps)
		}
		if got := c.w.covers(s); got != c.covers {
			t.Errorf("%s: covers = %v, want %v", c.name, got, c.covers)
		}
	}
}
