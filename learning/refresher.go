package learning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// StalePeriods is how many refresh periods a snapshot stays usable
// without a successful refresh: after that the engine decides with the
// prior (degraded learning_unavailable).
const StalePeriods = 3

// DefaultLoadTimeout bounds one load from the Source when the refresh
// period is longer.
const DefaultLoadTimeout = 5 * time.Second

// Settings are what the ruleset in force asks of the refresher.
type Settings struct {
	// Offers are the offers whose statistics are loaded (those whose
	// score reads propensity); empty: nothing is loaded, and the empty
	// snapshot is usable.
	Offers []string
	// HalfLife weighs the counts (Weight); 0: no decay.
	HalfLife time.Duration
	// Refresh is the period of the reloads; 0: DefaultRefresh.
	Refresh time.Duration
}

// DefaultRefresh is the period of Settings without one.
const DefaultRefresh = 10 * time.Second

// RefresherOptions configure a Refresher. Source and Clock are required.
type RefresherOptions struct {
	Source Source
	// Clock gives the time: when a snapshot was taken, its age, the day
	// its weights are relative to.
	Clock func() time.Time
	// After waits between reloads; nil: time.After. Tests give their own.
	After func(time.Duration) <-chan time.Time
	// Logger; nil: nothing is logged.
	Logger *slog.Logger
	// OnRefresh is told of every reload's result (metrics); nil: nobody.
	OnRefresh func(err error)
}

// Refresher keeps the statistics snapshot of one process fresh: Run
// reloads it from the Source every refresh period, off the decision path.
// Its Counts method makes it an engine.Statistics: it answers from the
// snapshot in memory, and reports ok false when there is none or the last
// good one is older than StalePeriods refresh periods. It does no I/O of
// its own: only the Source's. Safe for concurrent use.
type Refresher struct {
	o RefresherOptions

	mu       sync.Mutex
	settings Settings
	changed  chan struct{} // signalled by Configure

	usable  atomic.Pointer[Snapshot] // nil when none or stale
	last    atomic.Pointer[Snapshot] // the last good one, stale or not
	lastErr atomic.Pointer[string]
}

// NewRefresher returns a Refresher; Configure it, then Run it.
func NewRefresher(o RefresherOptions) (*Refresher, error) {
	if o.Source == nil || o.Clock == nil {
		return nil, errors.New("learning: RefresherOptions.Source and Clock are required")
	}
	if o.After == nil {
		o.After = time.After
	}
	return &Refresher{o: o, changed: make(chan struct{}, 1), settings: Settings{Refresh: DefaultRefresh}}, nil
}

// Configure sets what to load; a change of offers or half-life triggers a
// reload at once (the running loop's), a change of period takes effect
// after the current wait.
func (r *Refresher) Configure(s Settings) {
	if s.Refresh <= 0 {
		s.Refresh = DefaultRefresh
	}
	s.Offers = slices.Clone(s.Offers)
	slices.Sort(s.Offers)
	s.Offers = slices.Compact(s.Offers)
	r.mu.Lock()
	old := r.settings
	r.settings = s
	r.mu.Unlock()
	if !slices.Equal(old.Offers, s.Offers) || old.HalfLife != s.HalfLife {
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
}

func (r *Refresher) current() Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings
}

// Refresh loads the counts now and, when the load succeeds, makes them
// the snapshot in force. On failure the previous snapshot stays in force
// until it is stale.
func (r *Refresher) Refresh(ctx context.Context) error {
	s := r.current()
	var counts []Count
	var err error
	if len(s.Offers) > 0 {
		timeout := min(s.Refresh, DefaultLoadTimeout)
		lctx, cancel := context.WithTimeout(ctx, timeout)
		counts, err = r.o.Source.Counts(lctx, s.Offers)
		cancel()
	}
	now := r.o.Clock()
	if err != nil {
		err = fmt.Errorf("learning: loading the statistics: %w", err)
		msg := err.Error()
		r.lastErr.Store(&msg)
		r.expire(now, s)
		if r.o.Logger != nil {
			r.o.Logger.Warn("learning statistics not refreshed", "error", msg)
		}
	} else {
		snap := NewSnapshot(counts, now, s.HalfLife)
		r.last.Store(snap)
		r.usable.Store(snap)
		r.lastErr.Store(nil)
	}
	if r.o.OnRefresh != nil {
		r.o.OnRefresh(err)
	}
	return err
}

// expire drops the snapshot in force once it is stale at now.
func (r *Refresher) expire(now time.Time, s Settings) {
	if cur := r.usable.Load(); cur != nil && now.Sub(cur.At) > StalePeriods*s.Refresh {
		r.usable.CompareAndSwap(cur, nil)
	}
}

// Run reloads the statistics at once, then every refresh period and after
// every Configure that changes what to load, until ctx is done. A snapshot
// that turns stale while Run waits (its reloads failing) is dropped when it
// does, not at the end of the next failed reload: decisions stop reading it
// when Status stops calling it OK.
func (r *Refresher) Run(ctx context.Context) {
	for {
		select { // this load reads the latest settings: a change signalled before it is served
		case <-r.changed:
		default:
		}
		_ = r.Refresh(ctx) // logged and kept in Status
		tick := r.o.After(r.current().Refresh)
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.changed:
				break wait
			case <-tick:
				break wait
			case <-r.staleAt():
				r.expire(r.o.Clock(), r.current())
			}
		}
	}
}

// staleAt fires when the snapshot in force turns stale, if that may come
// before the next reload ends (a period and a load's timeout away); nil
// otherwise, so that a healthy loop waits for its period alone.
func (r *Refresher) staleAt() <-chan time.Time {
	cur := r.usable.Load()
	if cur == nil {
		return nil
	}
	s := r.current()
	left := cur.At.Add(StalePeriods * s.Refresh).Sub(r.o.Clock())
	if left >= s.Refresh+DefaultLoadTimeout {
		return nil
	}
	return r.o.After(max(left, 0) + time.Millisecond) // stale is older than the bound
}

// Counts returns offer's weighted trials and successes in cell from the
// snapshot in force; ok is false when there is none (never loaded, or
// stale).
func (r *Refresher) Counts(offer, cell string) (trials, successes float64, ok bool) {
	return r.usable.Load().Counts(offer, cell)
}

// Status is the state of the statistics, for GET /v1/learning and the
// metrics.
type Status struct {
	// RefreshedAt is when the last good snapshot was taken (zero: never).
	RefreshedAt time.Time
	// Age is how old that snapshot is now.
	Age time.Duration
	// OK: the snapshot is in force (decisions read it).
	OK bool
	// Err is the last reload's error, "" when it succeeded.
	Err string
	// Snapshot is the last good snapshot, stale or not (nil: never).
	Snapshot *Snapshot
}

// Status reports the state of the statistics now (by the clock). A
// snapshot past its staleness is reported not OK even before the loop's
// next round drops it.
func (r *Refresher) Status() Status {
	now := r.o.Clock()
	st := Status{Snapshot: r.last.Load()}
	if st.Snapshot != nil {
		st.RefreshedAt = st.Snapshot.At
		st.Age = now.Sub(st.Snapshot.At)
	}
	cur := r.usable.Load()
	st.OK = cur != nil && now.Sub(cur.At) <= StalePeriods*r.current().Refresh
	if e := r.lastErr.Load(); e != nil {
		st.Err = *e
	}
	return st
}
