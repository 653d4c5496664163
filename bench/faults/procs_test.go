package main

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestStatState(t *testing.T) {
	for _, c := range []struct {
		line string
		want byte
		ok   bool
	}{
		{"1234 (redis-server) T 1 1234 1234 0 -1", 'T', true},
		{"1234 (nats server) S 1 1234", 'S', true},
		{"1234 (a) b (c)) R 1 2", 'R', true},
		{"1234 redis-server T", 0, false},
		{"1234 (x)", 0, false},
		{"", 0, false},
	} {
		got, err := statState(c.line)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("statState(%q) = %q, %v; want %q, ok %v", c.line, got, err, c.want, c.ok)
		}
	}
}

// A scenario that hangs a server (redis-down, sigterm, nats-cluster)
// measures a hung server only once the stop has taken effect; a stop
// sent to a process that is gone must say so, not let the scenario
// measure a healthy run as a hang.
func TestHangVerifiesTheStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Log("the stop is verified on Linux only")
	}
	ps := &procs{dir: t.TempDir()}
	t.Cleanup(ps.killAll)
	ctx := context.Background()
	p, err := ps.newProc("sleeper", "sleep", []string{"60"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.hang(ctx); err != nil {
		t.Fatalf("hang of a running process: %v", err)
	}
	cmd, _ := p.current()
	if st, err := procState(cmd.Process.Pid); runtime.GOOS == "linux" && (err != nil || st != 'T') {
		t.Fatalf("after hang the process is in state %q (%v), not stopped", st, err)
	}
	p.kill()
	if err := p.hang(ctx); err == nil {
		t.Fatal("hang of a process that has exited reported no error")
	}
}

// A freeze of which one process did not stop is an error, and the
// others are let go.
func TestFreezeAllFailsWhenAStopDoesNotTake(t *testing.T) {
	ps := &procs{dir: t.TempDir()}
	t.Cleanup(ps.killAll)
	live, err := ps.newProc("live", "sleep", []string{"60"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := ps.newProc("gone", "sleep", []string{"60"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	gone.kill()
	if _, err := freezeAll(context.Background(), []*proc{live, gone}, time.Second); err == nil {
		t.Fatal("freezeAll with a process that is gone reported no error")
	}
	cmd, _ := live.current()
	if st, err := procState(cmd.Process.Pid); runtime.GOOS == "linux" && (err != nil || st == 'T') {
		t.Fatalf("the live process was left in state %q (%v)", st, err)
	}
}

// The ports of the suite's servers lie below the ephemeral range, where
// no connection's local address can take them while a killed server is
// down (and before it starts again on the same port); a Redis Cluster
// node's bus (its port + 10000) too; and a scenario is never given the
// same port twice.
func TestFreePortBelowTheEphemeralRange(t *testing.T) {
	lo := ephemeralLow()
	if lo <= 21000 {
		t.Logf("ephemeral range starts at %d: ports come from the kernel", lo)
		return
	}
	ps := &procs{dir: t.TempDir()}
	seen := map[int]bool{}
	for i := range 200 {
		bus := i%2 == 0
		p, err := ps.freePort(bus)
		if err != nil {
			t.Fatal(err)
		}
		top := p
		if bus {
			top = p + 10000
		}
		if p < 10000 || top >= lo {
			t.Fatalf("freePort(%v) = %d, not in [10000, %d) with its bus", bus, p, lo)
		}
		if seen[p] || bus && seen[p+10000] {
			t.Fatalf("freePort(%v) = %d, given before", bus, p)
		}
		seen[p] = true
		if bus {
			seen[p+10000] = true
		}
	}
}
