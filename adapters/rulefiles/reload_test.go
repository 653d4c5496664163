package rulefiles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// fakeLoad stands in for the rules compiler: the version is a hash of the
// *.yaml files' contents (following symlinks, skipping ..-prefixed
// directories as a Kubernetes-aware loader must), and a file containing
// "broken" is a rule error.
func fakeLoad(dir string) func() (*rules.Ruleset, error) {
	return func() (*rules.Ruleset, error) {
		var names []string
		var walk func(top string) error
		walk = func(top string) error {
			return filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && p != top && strings.HasPrefix(d.Name(), "..") {
					return filepath.SkipDir
				}
				if st, err := os.Stat(p); err == nil && st.IsDir() && d.Type()&fs.ModeSymlink != 0 && !strings.HasPrefix(d.Name(), "..") {
					return walk(p + string(filepath.Separator)) // a linked directory, as Load reads it
				}
				if strings.HasSuffix(p, ".yaml") {
					names = append(names, p)
				}
				return nil
			})
		}
		err := walk(dir)
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		h := sha256.New()
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, err
			}
			if strings.Contains(string(b), "broken") {
				rel, _ := filepath.Rel(dir, n)
				return nil, rules.Errors{{Pos: rules.Pos{File: rel, Line: 1, Col: 1}, Msg: "broken rule"}}
			}
			h.Write(b)
		}
		return &rules.Ruleset{Version: hex.EncodeToString(h.Sum(nil))[:8]}, nil
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReloadKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), "one")
	var mu sync.Mutex
	var results []Result
	r := New(dir, Options{Load: fakeLoad(dir), Logger: quiet(), OnReload: func(res Result) {
		mu.Lock()
		results = append(results, res)
		mu.Unlock()
	}})
	if r.Current() != nil {
		t.Fatal("a snapshot before the first load")
	}
	s1, err := r.Reload(TriggerStart)
	if err != nil || s1 == nil || r.Current() != s1 {
		t.Fatalf("first load: %v %v", s1, err)
	}
	if r.LastError() != nil {
		t.Fatal("last error after a good load")
	}
	write(t, filepath.Join(dir, "b.yaml"), "broken")
	s2, err := r.Reload(TriggerAPI)
	var es rules.Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("broken load: want rules.Errors, got %v", err)
	}
	if s2 != s1 || r.Current() != s1 {
		t.Fatal("a failed reload replaced the ruleset")
	}
	f := r.LastError()
	if f == nil || len(f.Errors) != 1 || f.Trigger != TriggerAPI {
		t.Fatalf("last error: %+v", f)
	}
	write(t, filepath.Join(dir, "b.yaml"), "two")
	s3, err := r.Reload(TriggerSignal)
	if err != nil || s3.Ruleset.Version == s1.Ruleset.Version {
		t.Fatalf("fixed load: %v", err)
	}
	if r.LastError() != nil {
		t.Fatal("last error kept after a good load")
	}
	s4, _ := r.Reload(TriggerSignal)
	mu.Lock()
	defer mu.Unlock()
	changed := []bool{true, false, true, false}
	if len(results) != 4 {
		t.Fatalf("OnReload called %d times, want 4", len(results))
	}
	for i, res := range results {
		if res.Changed != changed[i] {
			t.Errorf("reload %d: changed %v, want %v", i, res.Changed, changed[i])
		}
	}
	if s4 == s3 {
		t.Error("an unchanged reload should still swap in a fresh snapshot")
	}
}

func TestReloadRecoversPanic(t *testing.T) {
	r := New(t.TempDir(), Options{Logger: quiet(), Load: func() (*rules.Ruleset, error) { panic("boom") }})
	if _, err := r.Reload(TriggerStart); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("want a panic error, got %v", err)
	}
}

func TestWatch(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		edit  func(t *testing.T, dir string)
	}{
		{"write in place", nil, func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a.yaml"), "changed")
		}},
		{"new subdirectory", nil, func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "sub", "deeper", "c.yaml"), "new")
		}},
		{"file in existing subdirectory", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "sub", "c.yaml"), "first")
		}, func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "sub", "c.yaml"), "second")
		}},
		{"replaced by rename (editors)", nil, func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".a.yaml.tmp"), "renamed")
			if err := os.Rename(filepath.Join(dir, ".a.yaml.tmp"), filepath.Join(dir, "a.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{"file in a linked directory elsewhere", func(t *testing.T, dir string) {
			shared := filepath.Join(t.TempDir(), "shared")
			write(t, filepath.Join(shared, "s.yaml"), "first")
			must(t, os.Symlink(shared, filepath.Join(dir, "shared")))
		}, func(t *testing.T, dir string) {
			target, err := filepath.EvalSymlinks(filepath.Join(dir, "shared"))
			must(t, err)
			write(t, filepath.Join(target, "s.yaml"), "second")
		}},
		{"kubernetes ..data swap", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "a.yaml"))
			write(t, filepath.Join(dir, "..v1", "a.yaml"), "v1")
			must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
			must(t, os.Symlink(filepath.Join("..data", "a.yaml"), filepath.Join(dir, "a.yaml")))
		}, func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "..v2", "a.yaml"), "v2")
			must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
			must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
			must(t, os.RemoveAll(filepath.Join(dir, "..v1")))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.yaml"), "start")
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			r := New(dir, Options{Load: fakeLoad(dir), Logger: quiet(), Debounce: 20 * time.Millisecond})
			first, err := r.Reload(TriggerStart)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done, err := r.Watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); <-done }()
			tc.edit(t, dir)
			waitFor(t, "the new version", func() bool {
				return r.Current().Ruleset.Version != first.Ruleset.Version
			})
			// A second change after the first reload is still seen (watches re-added).
			second := r.Current().Ruleset.Version
			write(t, filepath.Join(dir, "z.yaml"), "again")
			waitFor(t, "the second version", func() bool { return r.Current().Ruleset.Version != second })
		})
	}
}

func TestWatchBrokenKeepsServing(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), "good")
	r := New(dir, Options{Load: fakeLoad(dir), Logger: quiet(), Debounce: 20 * time.Millisecond})
	first, err := r.Reload(TriggerStart)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := r.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()
	write(t, filepath.Join(dir, "a.yaml"), "broken")
	waitFor(t, "the reload error", func() bool { return r.LastError() != nil })
	if r.Current() != first {
		t.Fatal("the broken rules replaced the good ones")
	}
	if f := r.LastError(); f.Trigger != TriggerWatch || len(f.Errors) != 1 {
		t.Fatalf("failure: %+v", f)
	}
}

func TestWatchMissingDir(t *testing.T) {
	r := New(filepath.Join(t.TempDir(), "nope"), Options{Logger: quiet()})
	if _, err := r.Watch(context.Background()); err == nil {
		t.Fatal("watching a missing directory should fail")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWatchSeesTheDirectoryReplaced: the rules directory itself replaced,
// as a deploy does (rm -rf rules && git clone ... rules; or a new tree
// renamed over the old one): the new tree is loaded, and a later change in
// one of its subdirectories is seen too. The watches stayed on the old
// directory's inodes (or on none): the server kept the old rules, or kept
// failing with "stat rules: no such file or directory", until a SIGHUP.
func TestWatchSeesTheDirectoryReplaced(t *testing.T) {
	cases := []struct {
		name    string
		replace func(t *testing.T, r *Reloader, dir string)
	}{
		{"removed, then made again after a reload failed", func(t *testing.T, r *Reloader, dir string) {
			must(t, os.RemoveAll(dir))
			waitFor(t, "the failed reload of the removed directory", func() bool { return r.LastError() != nil })
			write(t, filepath.Join(dir, "a.yaml"), "new tree")
			write(t, filepath.Join(dir, "sub", "b.yaml"), "new b")
		}},
		{"a new tree renamed over it", func(t *testing.T, r *Reloader, dir string) {
			next := dir + ".next"
			write(t, filepath.Join(next, "a.yaml"), "renamed tree")
			write(t, filepath.Join(next, "sub", "b.yaml"), "renamed b")
			must(t, os.Rename(dir, dir+".old"))
			must(t, os.Rename(next, dir))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rules")
			write(t, filepath.Join(dir, "a.yaml"), "start")
			write(t, filepath.Join(dir, "sub", "b.yaml"), "b")
			r := New(dir, Options{Load: fakeLoad(dir), Logger: quiet(), Debounce: 20 * time.Millisecond})
			if _, err := r.Reload(TriggerStart); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done, err := r.Watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); <-done }()
			onDisk := func() string {
				rs, err := fakeLoad(dir)()
				must(t, err)
				return rs.Version
			}
			tc.replace(t, r, dir)
			want := onDisk()
			waitFor(t, "the new tree's version", func() bool {
				c := r.Current()
				return c.Ruleset.Version == want && r.LastError() == nil
			})
			write(t, filepath.Join(dir, "sub", "b.yaml"), "b edited in the new tree")
			want = onDisk()
			waitFor(t, "the edit in the new tree", func() bool { return r.Current().Ruleset.Version == want })
		})
	}
}

// TestFirstLoadFailureDoesNotClaimAnOldRuleset: when nothing serves yet
// (serve's start), a failed load is logged as such. Before, serve's start
// with a broken rules directory logged "rules reload failed; the previous
// ruleset keeps serving" with serving="", then exited.
func TestFirstLoadFailureDoesNotClaimAnOldRuleset(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), "broken")
	var logs bytes.Buffer
	r := New(dir, Options{Load: fakeLoad(dir), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := r.Reload(TriggerStart); err == nil {
		t.Fatal("a broken rule loaded")
	}
	if strings.Contains(logs.String(), "keeps serving") || !strings.Contains(logs.String(), "nothing to serve") {
		t.Errorf("the first load's failure is logged as:\n%s", logs.String())
	}
	write(t, filepath.Join(dir, "a.yaml"), "one")
	if _, err := r.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	write(t, filepath.Join(dir, "a.yaml"), "broken")
	if _, err := r.Reload(TriggerSignal); err == nil {
		t.Fatal("a broken rule loaded")
	}
	if !strings.Contains(logs.String(), "the previous ruleset keeps serving") {
		t.Errorf("a failed reload is logged as:\n%s", logs.String())
	}
}
