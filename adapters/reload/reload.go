// Package reload keeps the ruleset in force: it compiles the rules
// directory off the request path, swaps the result in atomically, keeps
// the last good ruleset when a reload fails (recording the failure), and
// watches the directory (recursively, with fsnotify) to reload on change.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

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
	// Load compiles the rules; default rules.Load(dir).
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
		o.Load = func() (*rules.Ruleset, error) { return rules.Load(dir) }
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

// Watch starts watching the rules directory and every directory under it.
// It returns once the watches are in place (so that a change made after
// Watch returns is seen); the watching goroutine runs until ctx is done and
// then closes the returned channel. A change reloads after the files have
// been quiet for the debounce interval. Directories created later
// (including the ..data swap of a Kubernetes config map, and editors that
// replace a file by renaming) are picked up: every batch of changes
// re-scans the tree and re-adds its watches.
func (r *Reloader) Watch(ctx context.Context) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", r.dir, err)
	}
	if err := r.addTree(w); err != nil {
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		r.loop(ctx, w)
	}()
	return done, nil
}

// addTree adds a watch on the directory and every directory under it.
func (r *Reloader) addTree(w *fsnotify.Watcher) error {
	root := r.dir
	if resolved, err := filepath.EvalSymlinks(root); err == nil {
		root = resolved
	}
	have := make(map[string]bool)
	for _, p := range w.WatchList() {
		have[p] = true
	}
	if !have[r.dir] {
		if err := w.Add(r.dir); err != nil {
			return fmt.Errorf("watching %s: %w", r.dir, err)
		}
	}
	// Directories reached through symbolic links are watched at their
	// real path, once each, as the rules loader reads them.
	visited := map[string]bool{root: true}
	var walk func(top string) error
	walk = func(top string) error {
		return filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return fmt.Errorf("watching %s: %w", r.dir, err)
				}
				return nil // a directory that vanished while walking: the next event re-scans
			}
			if d.Type()&fs.ModeSymlink != 0 {
				real, err := filepath.EvalSymlinks(p)
				if err != nil || visited[real] {
					return nil
				}
				if st, err := os.Stat(real); err != nil || !st.IsDir() {
					return nil
				}
				visited[real] = true
				return walk(real)
			}
			if !d.IsDir() || p == root {
				return nil
			}
			visited[p] = true
			if have[p] {
				return nil
			}
			if err := w.Add(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				r.opts.Logger.Warn("cannot watch a rules subdirectory", "dir", p, "error", err.Error())
			}
			return nil
		})
	}
	return walk(root)
}

func (r *Reloader) loop(ctx context.Context, w *fsnotify.Watcher) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if !relevant(ev) {
				continue
			}
			pending = true
			timer.Reset(r.opts.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			r.opts.Logger.Warn("rules watcher error", "dir", r.dir, "error", err.Error())
			// An overflow loses events: reload to be sure.
			pending = true
			timer.Reset(r.opts.Debounce)
		case <-timer.C:
			if !pending {
				continue
			}
			pending = false
			if err := r.addTree(w); err != nil {
				r.opts.Logger.Warn("re-adding the rules watches", "error", err.Error())
			}
			_, _ = r.Reload(TriggerWatch) // logged and recorded by Reload
		}
	}
}

// relevant filters out what cannot change the rules: attribute changes and
// editors' temporary files.
func relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	switch {
	case strings.HasSuffix(base, "~"), strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"),
		strings.HasSuffix(base, ".swo"), strings.HasPrefix(base, ".#"), base == "4913":
		return false
	}
	return true
}
