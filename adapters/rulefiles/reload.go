package rulefiles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
}

// Failure is a reload that failed: when, the message, and the rule errors
// (empty when the failure was not in the rules, e.g. an unreadable
// directory).
type Failure struct {
	At      time.Time
	Trigger string
	Message string
	Errors  []*rules.Error
}

// Result is the outcome of one reload attempt.
type Result struct {
	Trigger  string
	Snapshot *Snapshot // the snapshot in force after the attempt (nil if none ever loaded)
	Previous *Snapshot // the snapshot in force before it (nil if none)
	Changed  bool      // a new version was swapped in
	Err      error     // non-nil: the attempt failed, Snapshot is the old one
	Took     time.Duration
}

// Options configure a Reloader.
type Options struct {
	// Load compiles the rules; default Load(dir).
	Load func() (*rules.Ruleset, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// OnReload is called after every attempt (serialized, after the swap):
	// metrics, events.
	OnReload func(Result)
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
	if o.Load == nil {
		o.Load = func() (*rules.Ruleset, error) { return Load(dir) }
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
func (r *Reloader) Reload(trigger string) (*Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.opts.Now()
	prev := r.cur.Load()
	rs, err := r.load()
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
		r.opts.Logger.Error("rules reload failed; the previous ruleset keeps serving",
			"trigger", trigger, "dir", r.dir, "error", err.Error(), "serving", version(prev))
		r.notify(res)
		return prev, err
	}
	snap := &Snapshot{Ruleset: rs, LoadedAt: start, Source: r.dir}
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
	r.notify(res)
	return snap, nil
}

func (r *Reloader) load() (rs *rules.Ruleset, err error) {
	defer func() {
		if p := recover(); p != nil {
			rs, err = nil, fmt.Errorf("the rules compiler panicked: %v", p)
		}
	}()
	return r.opts.Load()
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
