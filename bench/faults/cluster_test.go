package main

import "testing"

func TestFailoverRunCheck(t *testing.T) {
	good := failoverRun{label: "--ledger-replicas 1", replicas: 1, exhausted: true, resumed: true, counted: 3000, ok: 100, sent: 100}
	for _, c := range []struct {
		name string
		edit func(*failoverRun)
		pass bool
	}{
		{"all well", func(*failoverRun) {}, true},
		{"all well, the cap not used up with replicas", func(f *failoverRun) { f.exhausted = false }, true},
		{"never granted again, replicas 1", func(f *failoverRun) { f.resumed, f.exhausted = false, false }, false},
		{"never granted again, replicas 0", func(f *failoverRun) { f.replicas, f.resumed, f.exhausted = 0, false, false }, false},
		{"the cap not used up, replicas 0", func(f *failoverRun) { f.replicas, f.exhausted = 0, false }, false},
		{"an increment lost, replicas 1", func(f *failoverRun) { f.lost = 1 }, false},
		{"above the cap, replicas 1", func(f *failoverRun) { f.over = 1 }, false},
		{"a request not answered 200", func(f *failoverRun) { f.ok = 99 }, false},
		{"no request at all", func(f *failoverRun) { f.ok, f.sent = 0, 0 }, false},
	} {
		f := good
		c.edit(&f)
		r := result{status: "pass"}
		f.check(&r)
		if got := r.status == "pass"; got != c.pass {
			t.Errorf("%s: status %q, notes %q; want pass %v", c.name, r.status, r.notes, c.pass)
		}
	}
}
