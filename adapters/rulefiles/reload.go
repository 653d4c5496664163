package rulefiles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// Triggers of a reload, as logged and passed to Options.OnReload.
const (
	TriggerStart  = "start"
	TriggerWatch  = "watch"
	TriggerSignal = "signal"
	TriggerAPI    = "api"
)

// Snapshot is a ruleset in force and where it came from. It is immutable.
type Snapshot struct {
	Ruleset  *rules.Ruleset
	LoadedAt time.Time
	Source   string // the rules directory
	// Files are the rule files the ruleset was compiled from (shared, not
	// to be changed); nil when Options.Load compiled it.
	Files []rules.File
}

// Failure is a reload that failed: when, the message, and the rule errors
// (empty when the failure was not in the rules, e.g. an unreadable
// directory).
type Failure struct {
	At      time.Time
	Trigger string
	Message string
	Errors  []*rules.Error
	// Refused: the new ruleset compiled but was held back by the shrink
	// guard (ErrShrinkRefused).
	Refused bool
}

// ErrShrinkRefused is the error (errors.Is) of a reload held back because
// the new ruleset lacks more than half of the served offers' ids (2 ×
// removed > served): a truncated or half-written rules directory must not
// empty the shop. ReloadOptions.AllowShrink or Options.AllowShrink lets
// such a reload through.
var ErrShrinkRefused = errors.New("reload held back: the new rules lack more than half of the offers in force")

// ShrinkError is the error of a reload held back by the shrink guard; it
// is ErrShrinkRefused (errors.Is).
type ShrinkError struct {
	Served  int      // offers in the ruleset in force
	Removed []string // their ids missing from the new ruleset, sorted
	Version string   // the version held back
}

// Error says what is missing and how to let it through.
func (e *ShrinkError) Error() string {
	shown := e.Removed
	more := ""
	if len(shown) > 5 {
		shown, more = shown[:5], fmt.Sprintf(" and %d more", len(e.Removed)-5)
	}
	return fmt.Sprintf("reload held back: the new rules (version %s) lack %d of the %d offers in force (%s%s); "+
		"if that is meant, reload with POST /v1/rules/reload {\"allow_shrink\": true} or run serve with --allow-shrink",
		e.Version, len(e.Removed), e.Served, strings.Join(shown, ", "), more)
}

// Is makes a ShrinkError ErrShrinkRefused.
func (e *ShrinkError) Is(target error) bool { return target == ErrShrinkRefused }

// shrinkCheck returns a ShrinkError when next lacks more than half of the
// offers of prev (2 × removed > served), else nil.
func shrinkCheck(prev, next *rules.Ruleset) *ShrinkError {
	if prev == nil || len(prev.Offers) == 0 {
		return nil
	}
	have := make(map[string]bool, len(next.Offers))
	for _, o := range next.Offers {
		have[o.ID] = true
	}
	var removed []string
	for _, o := range prev.Offers {
		if !have[o.ID] {
			removed = append(removed, o.ID)
		}
	}
	if 2*len(removed) <= len(prev.Offers) {
		return nil
	}
	slices.Sort(removed)
	return &ShrinkError{Served: len(prev.Offers), Removed: removed, Version: next.Version}
}

// ReloadOptions modify one reload.
type ReloadOptions struct {
	// AllowShrink lets a ruleset through that lacks more than half of the
	// offers in force.
	AllowShrink bool
}

// Result is the outcome of one reload attempt.
type Result struct {
	Trigger  string
	Snapshot *Snapshot // the snapshot in force after the attempt (nil if none ever loaded)
	Previous *Snapshot // the snapshot in force before it (nil if none)
	Changed  bool      // a new version was swapped in
	Err      error     // non-nil: the attempt failed, Snapshot is the old one
	Refused  bool      // Err is ErrShrinkRefused: the new rules compiled but were held back
	Took     time.Duration
}

// Options configure a Reloader.
type Options struct {
	// Read reads the rule files, which the Reloader compiles and keeps in
	// the snapshot (Snapshot.Files); default ReadDir(dir).
	Read func() ([]rules.File, error)
	// Load, when set, compiles the rules instead (Snapshot.Files is then
	// nil).
	Load func() (*rules.Ruleset, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// OnReload is called after every attempt (serialized, after the swap):
	// metrics, events.
	OnReload func(Result)
	// AllowShrink turns the shrink guard off (serve --allow-shrink): every
	// reload that compiles is served, however many offers it drops.
	AllowShrink bool
	// Debounce is how long the watcher waits for the files to settle after
	// a change; default 200 ms.
	Debounce time.Duration
}

// Reloader holds the ruleset in force. Current is lock-free; reloads are
// serialized.
type Reloader struct {
	dir     string
	opts    Options
	cur     atomic.Pointer[Snapshot]
	lastErr atomic.Pointer[Failure]
	mu      sync.Mutex
}

// New returns a Reloader of the rules directory dir. Nothing is loaded
// until Reload is called.
func New(dir string, o Options) *Reloader {
	if o.Load == nil && o.Read == nil {
		o.Read = func() ([]rules.File, error) { return ReadDir(dir) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Debounce <= 0 {
		o.Debounce = 200 * time.Millisecond
	}
	return &Reloader{dir: dir, opts: o}
}

// Dir returns the rules directory.
func (r *Reloader) Dir() string { return r.dir }

// Current returns the snapshot in force, nil before the first successful
// load.
func (r *Reloader) Current() *Snapshot { return r.cur.Load() }

// LastError returns the failure of the last reload, nil when the last
// reload succeeded.
func (r *Reloader) LastError() *Failure { return r.lastErr.Load() }

// Reload compiles the rules now and swaps them in. On failure the old
// ruleset keeps serving, the failure is kept for LastError and returned
// (rule errors as rules.Errors, errors.As).
//
// A reload whose ruleset lacks more than half of the offers in force is
// held back (ErrShrinkRefused, a *ShrinkError) unless Options.AllowShrink;
// the first load is never held back.
func (r *Reloader) Reload(trigger string) (*Snapshot, error) {
	return r.ReloadWith(trigger, ReloadOptions{})
}

// ReloadWith is Reload with options for this one reload.
func (r *Reloader) ReloadWith(trigger string, o ReloadOptions) (*Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.opts.Now()
	prev := r.cur.Load()
	rs, files, err := r.load()
	res := Result{Trigger: trigger, Previous: prev, Took: r.opts.Now().Sub(start)}
	if err == nil && rs == nil {
		err = errors.New("the rules compiler returned no ruleset")
	}
	if err != nil {
		f := &Failure{At: start, Trigger: trigger, Message: err.Error()}
		var es rules.Errors
		if errors.As(err, &es) {
			f.Errors = es
			f.Message = fmt.Sprintf("%d error(s) in the rules", len(es))
		}
		r.lastErr.Store(f)
		res.Snapshot, res.Err = prev, err
		msg := "rules reload failed; the previous ruleset keeps serving"
		if prev == nil {
			msg = "rules reload failed; no ruleset is serving" // the first load: serve stops
		}
		r.opts.Logger.Error(msg, "trigger", trigger, "dir", r.dir, "error", err.Error(), "serving", version(prev))
		r.notify(res)
		return prev, err
	}
	if !o.AllowShrink && !r.opts.AllowShrink && prev != nil {
		if se := shrinkCheck(prev.Ruleset, rs); se != nil {
			r.lastErr.Store(&Failure{At: start, Trigger: trigger, Message: se.Error(), Refused: true})
			res.Snapshot, res.Err, res.Refused = prev, se, true
			r.opts.Logger.Warn("rules reload held back; the previous ruleset keeps serving",
				"trigger", trigger, "dir", r.dir, "reason", se.Error(), "served_offers", se.Served,
				"removed_offers", len(se.Removed), "held_back", rs.Version, "serving", version(prev))
			r.notify(res)
			return prev, se
		}
	}
	snap := &Snapshot{Ruleset: rs, LoadedAt: start, Source: r.dir, Files: files}
	r.cur.Store(snap)
	r.lastErr.Store(nil)
	res.Snapshot = snap
	res.Changed = prev == nil || prev.Ruleset.Version != rs.Version
	lvl := slog.LevelInfo
	if !res.Changed {
		lvl = slog.LevelDebug
	}
	r.opts.Logger.Log(context.Background(), lvl, "rules loaded", "trigger", trigger, "dir", r.dir,
		"version", rs.Version, "previous", version(prev), "files", len(rs.Files),
		"took_ms", float64(res.Took.Microseconds())/1000)
	if res.Changed && prev != nil {
		for _, m := range engine.Reassigned(prev.Ruleset, rs) {
			r.opts.Logger.Warn("rules reload re-assigns a running experiment's customers: they change variants mid-test (docs/experiments.md: never insert an experiment before another of its layer; stop one instead of deleting it)",
				"experiment", m, "version", rs.Version, "previous", version(prev))
		}
		if was, now := prev.Ruleset.LearningReward(), rs.LearningReward(); was != "" && now != "" && was != now {
			r.opts.Logger.Warn("rules reload changes what learning counts as a success: the offers' statistics now mix successes of both; run `arbiter learning reset` to learn the new reward from the prior (docs/learning.md)",
				"reward", now, "previous_reward", was, "version", rs.Version, "previous", version(prev))
		}
	}
	r.notify(res)
	return snap, nil
}

func (r *Reloader) load() (rs *rules.Ruleset, files []rules.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			rs, files, err = nil, nil, fmt.Errorf("the rules compiler panicked: %v", p)
		}
	}()
	if r.opts.Load != nil {
		rs, err = r.opts.Load()
		return rs, nil, err
	}
	files, err = r.opts.Read()
	if err != nil {
		return nil, nil, err
	}
	rs, err = rules.Compile(files)
	if errors.Is(err, rules.ErrNoRuleFiles) {
		err = fmt.Errorf("%w under %s", rules.ErrNoRuleFiles, r.dir)
	}
	if err != nil {
		return nil, nil, err
	}
	return rs, files, nil
}

func (r *Reloader) notify(res Result) {
	if r.opts.OnReload != nil {
		r.opts.OnReload(res)
	}
}

func version(s *Snapshot) string {
	if s == nil {
		return ""
	}
	return s.Ruleset.Version
}
