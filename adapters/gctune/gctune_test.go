package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// restore puts the runtime's pacing back as the test found it.
func restore(t *testing.T) {
	t.Helper()
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)
	t.Setenv("GOMEMLIMIT", "") // memlimit.Set reads it: unset for these tests
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func noCgroup() (uint64, error) { return 0, memlimit.ErrNoLimit }

func TestDecide(t *testing.T) {
	restore(t)
	const MiB = 1 << 20
	cases := []struct {
		name   string
		opts   Options
		cgroup uint64 // 0: none
		live   uint64
		want   Mode
		floor  int64
		limit  int64
	}{
		{name: "operator's GOGC wins", opts: Options{GOGC: "100", Floor: 256 * MiB}, live: 1 * MiB, want: ModeOperator},
		{name: "no floor: ratio", opts: Options{}, live: 1 * MiB, want: ModeRatio, limit: math.MaxInt64},
		{name: "small live heap: floor", opts: Options{Floor: 256 * MiB}, live: 40 * MiB, want: ModeFloor, floor: 256 * MiB, limit: math.MaxInt64},
		{name: "live heap whose GOGC goal passes the floor: ratio", opts: Options{Floor: 256 * MiB}, live: 60 * MiB, want: ModeRatio, floor: 256 * MiB, limit: math.MaxInt64},
		{name: "GOGC 100 above the floor", opts: Options{Floor: 256 * MiB, Percent: 100}, live: 100 * MiB, want: ModeFloor, floor: 256 * MiB, limit: math.MaxInt64},
		// A 200 MiB container: the limit is 180 MiB, the floor at most 135 MiB.
		{name: "container limit caps the floor", opts: Options{Floor: 256 * MiB}, cgroup: 200 * MiB, live: 10 * MiB, want: ModeFloor, floor: 180 * MiB / 4 * 3, limit: 180 * MiB},
		{name: "container, live heap near the floor: ratio", opts: Options{Floor: 256 * MiB}, cgroup: 200 * MiB, live: 30 * MiB, want: ModeRatio, floor: 180 * MiB / 4 * 3, limit: 180 * MiB},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.Cgroup = noCgroup
			if c.cgroup > 0 {
				o.Cgroup = memlimit.Limit(c.cgroup)
			}
			tu := New(o)
			t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64) })
			var gotPercent int
			var gotLimit int64
			calls := 0
			tu.set = func(p int, l int64) { gotPercent, gotLimit = p, l; calls++ }
			if got := tu.applyLive(c.live); got != c.want {
				t.Fatalf("mode %v, want %v", got, c.want)
			}
			if c.want == ModeOperator {
				if calls != 0 {
					t.Fatalf("the operator's GOGC was overridden: %d calls", calls)
				}
				return
			}
			if tu.Floor() != c.floor || tu.Limit() != c.limit {
				t.Fatalf("floor %d limit %d, want %d %d", tu.Floor(), tu.Limit(), c.floor, c.limit)
			}
			switch c.want {
			case ModeFloor:
				if gotPercent != -1 || gotLimit != c.floor {
					t.Fatalf("set(%d, %d), want GOGC off and the floor %d", gotPercent, gotLimit, c.floor)
				}
			case ModeRatio:
				want := o.Percent
				if want == 0 {
					want = DefaultPercent
				}
				if gotPercent != want || gotLimit != c.limit {
					t.Fatalf("set(%d, %d), want %d and the limit %d", gotPercent, gotLimit, want, c.limit)
				}
			}
			// The same live heap again changes nothing.
			tu.applyLive(c.live)
			if calls != 1 {
				t.Fatalf("%d calls to the runtime for one mode, want 1", calls)
			}
		})
	}
}

func TestSwitchesBackWhenTheLiveHeapGrows(t *testing.T) {
	restore(t)
	const MiB = 1 << 20
	tu := New(Options{Floor: 256 * MiB, Cgroup: noCgroup})
	var modes []Mode
	tu.set = func(p int, l int64) {
		if p < 0 {
			modes = append(modes, ModeFloor)
		} else {
			modes = append(modes, ModeRatio)
		}
	}
	for _, live := range []uint64{10 * MiB, 20 * MiB, 80 * MiB, 90 * MiB, 30 * MiB} {
		tu.applyLive(live)
	}
	want := []Mode{ModeFloor, ModeRatio, ModeFloor}
	if len(modes) != len(want) {
		t.Fatalf("modes %v, want %v", modes, want)
	}
	for i := range want {
		if modes[i] != want[i] {
			t.Fatalf("modes %v, want %v", modes, want)
		}
	}
}

var sink []byte

// churn allocates n bytes in short-lived 8 KiB objects, as decisions do.
func churn(n int) {
	for i := 0; i < n/8192; i++ {
		sink = make([]byte, 8192)
	}
}

// TestFloorMakesCyclesRare runs the real collector. What the floor changes
// is the heap goal, read from the runtime after a full cycle: with a tiny
// live heap, GOGC=400 aims at tens of megabytes, the floor at 256 MiB. The
// 1 GiB of garbage then counts the cycles under the floor, which must be a
// handful (1 GiB is four goals; at most 8). Cycles at GOGC=400 are only logged: how many a tight allocation
// loop fits into one depends on how long each cycle's mark takes, which on
// a loaded machine (CI runs test binaries side by side) is stretched by the
// OS, so a count there is not a property of the pacing (a CI run counted 6
// against the 64-72 of a quiet machine).
func TestFloorMakesCyclesRare(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 2 GiB")
	}
	restore(t)
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	run := func(o Options) (cycles uint32, heapGoal uint64) {
		debug.SetMemoryLimit(math.MaxInt64) // what an earlier run set is not this one's limit
		o.Cgroup = noCgroup
		// The live heap Apply reads is the last cycle's: a cycle first, so
		// that it is this tiny heap's, not what an earlier run's churn had
		// allocated while a stretched mark ran (with -count=3, the second
		// run read such a heap, chose GOGC over the floor, and its goal was
		// 16 MiB).
		runtime.GC()
		New(o).Apply()
		runtime.GC()
		metrics.Read(goal)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		churn(1 << 30)
		runtime.ReadMemStats(&after)
		return after.NumGC - before.NumGC, goal[0].Value.Uint64()
	}
	// The floor first: the heap that the GOGC run leaves mapped would count
	// against its limit.
	floorCycles, floorGoal := run(Options{Floor: 256 << 20})
	ratioCycles, ratioGoal := run(Options{})
	t.Logf("heap goal %d MiB under the floor, %d MiB at GOGC=%d; 1 GiB of garbage: %d cycles under the floor, %d at GOGC=%d",
		floorGoal>>20, ratioGoal>>20, DefaultPercent, floorCycles, ratioCycles, DefaultPercent)
	if floorGoal < 200<<20 {
		t.Errorf("heap goal %d MiB under a 256 MiB floor, want at least 200 MiB", floorGoal>>20)
	}
	if ratioGoal*4 > floorGoal {
		t.Errorf("heap goal %d MiB at GOGC=%d against %d MiB under the floor: the floor does not raise it", ratioGoal>>20, DefaultPercent, floorGoal>>20)
	}
	if floorCycles > 8 {
		t.Errorf("%d cycles for 1 GiB of garbage under a 256 MiB floor, want at most 8 (1 GiB is four goals)", floorCycles)
	}
}
