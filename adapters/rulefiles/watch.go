package rulefiles

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch starts watching the rules directory and every directory under it.
// It returns once the watches are in place (so that a change made after
// Watch returns is seen); the watching goroutine runs until ctx is done and
// then closes the returned channel. A change reloads after the files have
// been quiet for the debounce interval. Directories created later
// (including the ..data swap of a Kubernetes config map, and editors that
// replace a file by renaming) are picked up: every batch of changes
// re-scans the tree and re-adds its watches. The directory that holds the
// rules directory is watched too, for the rules directory's own name: when
// the rules directory is removed and made again, or another tree is renamed
// over it, every watch is dropped and the new tree watched instead.
func (r *Reloader) Watch(ctx context.Context) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", r.dir, err)
	}
	if err := r.addTree(w); err != nil {
		w.Close()
		return nil, err
	}
	if parent := filepath.Dir(filepath.Clean(r.dir)); parent != filepath.Clean(r.dir) {
		if err := w.Add(parent); err != nil {
			r.opts.Logger.Warn("not watching the directory that holds the rules directory: if the rules directory is replaced, reload with SIGHUP",
				"dir", parent, "error", err.Error())
		}
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
	// real path, once each, as Load reads them.
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
	root := filepath.Clean(r.dir)
	parent := filepath.Dir(root)
	// replaced: the rules directory's entry changed (removed, made, renamed
	// over): the watches of the old tree are dropped before the re-scan.
	pending, replaced, lost := false, false, false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			name := filepath.Clean(ev.Name)
			if name == root {
				replaced = ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0 || replaced
			} else if filepath.Dir(name) == parent && parent != root {
				continue // another entry beside the rules directory
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
			if replaced {
				replaced = false
				for _, p := range w.WatchList() {
					if p != parent {
						_ = w.Remove(p) // the old tree's; addTree watches the new one
					}
				}
			}
			if err := r.addTree(w); err != nil {
				if lost {
					continue // still missing; its return is an event of parent
				}
				r.opts.Logger.Warn("re-adding the rules watches", "error", err.Error())
				lost = true
			} else {
				lost = false
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
