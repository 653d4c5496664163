// Package gctune paces Go's garbage collector for a server whose live heap
// is small and whose allocation rate is high: every decision allocates a
// little that dies at once, so a collector paced by GOGC alone runs several
// times a second, and while it marks it takes one of the few cores from the
// requests (the tail in BENCHMARKS.md).
//
// The tuner gives the heap a floor: while the live heap is small, the
// collector runs only when the process's Go memory reaches the floor
// (GOGC off, the floor as a soft memory limit), so cycles come seconds
// apart instead of several a second; once the live heap is large enough
// that GOGC would give a larger goal anyway, it paces by GOGC as before.
// A memory limit in force (GOMEMLIMIT, or 90% of the container's cgroup
// limit when GOMEMLIMIT is not set) bounds both: the floor never exceeds
// three quarters of it, and above the floor the limit stays the runtime's.
//
// It is the pattern Go's GC guide gives for GOMEMLIMIT with GOGC=off,
// guarded against its one danger (a live heap close to the limit, where
// the collector would run back to back): the guard is the switch back to
// GOGC pacing.
package gctune

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// Defaults.
const (
	// DefaultPercent is GOGC above the floor: the heap may grow to five
	// times the live heap between cycles.
	DefaultPercent = 400
	// DefaultFloor is the heap floor when none is given: 256 MiB.
	DefaultFloor = 256 << 20
	// checkEvery is how often the live heap is read.
	checkEvery = time.Second
)

// Options configure a Tuner.
type Options struct {
	// GOGC is the operator's GOGC environment value; when set, the
	// operator paces the collector and the tuner changes nothing.
	GOGC string
	// Floor is the heap floor in bytes; 0: no floor (GOGC pacing only,
	// at Percent).
	Floor int64
	// Percent is GOGC above the floor; 0: DefaultPercent.
	Percent int
	// Cgroup reports the container's memory limit; nil: memlimit.FromCgroup.
	// Its limit (90% of it) becomes the runtime's when GOMEMLIMIT is not set.
	Cgroup func() (uint64, error)
	// Logger receives the pacing chosen and its changes; nil: nothing.
	Logger *slog.Logger
}

// Mode is how the collector is paced.
type Mode int

// Modes.
const (
	// ModeOperator: GOGC was set by the operator, the tuner is off.
	ModeOperator Mode = iota + 1
	// ModeFloor: GOGC off, a cycle when Go's memory reaches the floor.
	ModeFloor
	// ModeRatio: GOGC at Percent, the memory limit (if any) in force.
	ModeRatio
)

func (m Mode) String() string {
	switch m {
	case ModeOperator:
		return "operator"
	case ModeFloor:
		return "floor"
	default:
		return "ratio"
	}
}

// Tuner paces the collector; see the package comment.
type Tuner struct {
	opts  Options
	limit int64 // the memory limit in force, math.MaxInt64 for none
	floor int64 // the effective floor, 0 for none
	mode  Mode
	live  []metrics.Sample
	set   func(percent int, limit int64) // the runtime's setters; replaced in tests
}

// New reads the memory limit (GOMEMLIMIT, else 90% of the cgroup's limit,
// which it then sets as the runtime's) and returns a tuner that has not
// changed the pacing yet; Apply and Run do.
func New(o Options) *Tuner {
	if o.Percent <= 0 {
		o.Percent = DefaultPercent
	}
	if o.Cgroup == nil {
		o.Cgroup = memlimit.FromCgroup
	}
	t := &Tuner{opts: o, live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, set: setRuntime}
	if o.GOGC != "" {
		t.mode = ModeOperator
		return t
	}
	limit, err := memlimit.Set(memlimit.WithProvider(o.Cgroup), memlimit.WithRatio(0.9))
	if err != nil || limit <= 0 {
		limit = debug.SetMemoryLimit(-1)
	}
	t.limit = limit
	t.floor = o.Floor
	if t.limit != math.MaxInt64 && t.floor > t.limit/4*3 {
		t.floor = t.limit / 4 * 3
	}
	return t
}

func setRuntime(percent int, limit int64) {
	debug.SetGCPercent(percent)
	debug.SetMemoryLimit(limit)
}

// Limit is the memory limit in force (math.MaxInt64: none), Floor the
// effective heap floor (0: none).
func (t *Tuner) Limit() int64 { return t.limit }

// Floor is the effective heap floor in bytes (0: none).
func (t *Tuner) Floor() int64 { return t.floor }

// Mode is the pacing in force.
func (t *Tuner) Mode() Mode { return t.mode }

// decide is the pacing for a live heap of live bytes.
func (t *Tuner) decide(live uint64) Mode {
	if t.opts.GOGC != "" {
		return ModeOperator
	}
	if t.floor <= 0 {
		return ModeRatio
	}
	// The goal GOGC would give; below the floor, the floor is larger.
	goal := float64(live) * float64(100+t.opts.Percent) / 100
	if goal < float64(t.floor) {
		return ModeFloor
	}
	return ModeRatio
}

// Apply reads the live heap and sets the pacing it calls for; it reports
// the mode in force.
func (t *Tuner) Apply() Mode {
	if t.mode == ModeOperator {
		return t.mode
	}
	metrics.Read(t.live)
	var live uint64
	if t.live[0].Value.Kind() == metrics.KindUint64 {
		live = t.live[0].Value.Uint64()
	}
	return t.applyLive(live)
}

func (t *Tuner) applyLive(live uint64) Mode {
	m := t.decide(live)
	if m == t.mode {
		return m
	}
	first := t.mode == 0 // not applied yet
	t.mode = m
	switch m {
	case ModeFloor:
		t.set(-1, t.floor)
	case ModeRatio:
		t.set(t.opts.Percent, t.limit)
	}
	if t.opts.Logger != nil {
		lvl := slog.LevelDebug
		if !first {
			lvl = slog.LevelInfo
		}
		t.opts.Logger.Log(context.Background(), lvl, "garbage collector pacing", "mode", m.String(),
			"live_heap", bytesText(int64(live)), "floor", bytesText(t.floor), "gogc", t.opts.Percent, "memory_limit", limitText(t.limit))
	}
	return m
}

// Run applies the pacing now and then every second until ctx is done.
func (t *Tuner) Run(ctx context.Context) {
	t.Apply()
	if t.mode == ModeOperator {
		return
	}
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Apply()
		}
	}
}

func limitText(n int64) string {
	if n == math.MaxInt64 {
		return "none"
	}
	return bytesText(n)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	default:
		return fmt.Sprintf("%dB", n)
	}
}
