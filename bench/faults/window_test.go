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

func TestRedisDownTally(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ans := func(offers []string, degraded ...string) answer {
		var a answer
		for _, o := range offers {
			a.Actions = append(a.Actions, struct {
				OfferID string `json:"offer_id"`
			}{o})
		}
		a.Degraded = degraded
		return a
	}
	capped := []string{"always", "capped"}
	uncapped := []string{"always"}
	s := func(from, to int, a answer) *sample {
		return &sample{start: at(from), end: at(to), status: 200, ans: a}
	}
	// killed 1000-3000 (answering again at 3500), hung 5000-7000
	good := []*sample{
		s(0, 5, ans(capped)),
		s(1500, 1510, ans(uncapped, "profile_unavailable", "ledger_unavailable")),
		s(4000, 4005, ans(capped)),
		s(5500, 5550, ans(uncapped, "ledger_unavailable")),
		s(7500, 7505, ans(capped)),
	}
	for _, c := range []struct {
		name  string
		extra []*sample
		pass  bool
	}{
		{"all well", nil, true},
		{"a capped grant while killed", []*sample{s(2000, 2002, ans(capped))}, false},
		{"a capped grant while hung", []*sample{s(6000, 6002, ans(capped, "profile_unavailable"))}, false},
		{"an answer while killed not marked", []*sample{s(2000, 2002, ans(uncapped))}, false},
		{"an answer while hung marked otherwise", []*sample{s(6000, 6050, ans(uncapped, "profile_unavailable"))}, false},
		{"answers held up by the hang, 400 ms, p99", repeat(s(6900, 7300, ans(capped)), 10), false},
	} {
		tl := newRedisDownTally()
		tl.killed = window{from: at(1000), to: at(3000), back: at(3500)}
		tl.hung = window{from: at(5000), to: at(7000), back: at(7000)}
		for _, x := range append(append([]*sample{}, good...), c.extra...) {
			tl.add(x)
		}
		r := result{status: "pass"}
		tl.check(&r)
		if got := r.status == "pass"; got != c.pass {
			t.Errorf("%s: status %q, notes %q; want pass %v", c.name, r.status, r.notes, c.pass)
		}
	}
}

func repeat(s *sample, n int) []*sample {
	out := make([]*sample, n)
	for i := range out {
		out[i] = s
	}
	return out
}
