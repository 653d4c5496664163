package rulefiles

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// offersFile is a rule file of n offers that every customer gets.
func offersFile(n int) string {
	var b strings.Builder
	b.WriteString("offers:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - id: offer_%d\n    kind: action\n    priority: %d\n", i, 10+i)
	}
	return b.String()
}

// TestEmptyFileNotServed: an empty file (the `: > rules.yaml` of the fault
// run) fails the reload with "empty rule file" and its path; the old
// ruleset keeps serving and the failure is kept for /v1/rules.
func TestEmptyFileNotServed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offers.yaml")
	write(t, path, offersFile(4))
	r := New(dir, Options{Logger: quiet()})
	first, err := r.Reload(TriggerStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"", "# all gone\n", "---\n"} {
		write(t, path, content)
		_, err := r.Reload(TriggerWatch)
		if err == nil || !strings.Contains(err.Error(), "offers.yaml:1:1: empty rule file") {
			t.Errorf("%q: reload error %v, want offers.yaml: empty rule file", content, err)
		}
		if cur := r.Current(); cur != first || len(cur.Ruleset.Offers) != 4 {
			t.Errorf("%q: serving %s with %d offers, want the first ruleset", content, cur.Ruleset.Version, len(cur.Ruleset.Offers))
		}
		if f := r.LastError(); f == nil || len(f.Errors) != 1 || f.Errors[0].Pos.File != "offers.yaml" {
			t.Errorf("%q: last error %+v", content, f)
		}
	}
}

// TestShrinkHeldBack: a reload that drops more than half of the served
// offers (2 × removed > served) is held back: the old ruleset serves, the
// log says why at WARN or above, the hook sees Refused; at exactly half it
// goes through; the first load is never held back; AllowShrink lets it
// through.
func TestShrinkHeldBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offers.yaml")
	var logs bytes.Buffer
	var last Result
	r := New(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnReload: func(res Result) { last = res }})

	write(t, path, offersFile(1)) // the first load: one offer is fine
	if _, err := r.Reload(TriggerStart); err != nil {
		t.Fatal(err)
	}
	write(t, path, offersFile(10))
	ten, err := r.Reload(TriggerWatch)
	if err != nil || len(ten.Ruleset.Offers) != 10 {
		t.Fatalf("growing: %v", err)
	}
	logs.Reset()
	write(t, path, offersFile(4)) // 6 of 10 removed
	_, err = r.Reload(TriggerWatch)
	if !errors.Is(err, ErrShrinkRefused) {
		t.Fatalf("6 of 10 offers removed: reload error %v, want ErrShrinkRefused", err)
	}
	if r.Current() != ten {
		t.Errorf("serving %s, want the 10 offers", r.Current().Ruleset.Version)
	}
	if !last.Refused || last.Err == nil || last.Snapshot != ten {
		t.Errorf("the hook saw %+v, want Refused with the old snapshot", last)
	}
	f := r.LastError()
	if f == nil || !f.Refused || !strings.Contains(f.Message, "6 of the 10 offers") || !strings.Contains(f.Message, "offer_4") {
		t.Errorf("last error %+v, want the refusal naming what is missing", f)
	}
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "rules loaded") {
		t.Errorf("log: %s", logs.String())
	}

	write(t, path, offersFile(5)) // exactly half removed: served
	if snap, err := r.Reload(TriggerWatch); err != nil || len(snap.Ruleset.Offers) != 5 {
		t.Fatalf("half removed: %v", err)
	}
	write(t, path, offersFile(2))
	if _, err := r.ReloadWith(TriggerAPI, ReloadOptions{AllowShrink: true}); err != nil {
		t.Fatalf("allowed shrink: %v", err)
	}
	if n := len(r.Current().Ruleset.Offers); n != 2 || r.LastError() != nil {
		t.Errorf("after an allowed shrink: %d offers, last error %+v", n, r.LastError())
	}

	// --allow-shrink: every reload may shrink
	r2 := New(dir, Options{Logger: quiet(), AllowShrink: true})
	write(t, path, offersFile(10))
	if _, err := r2.Reload(TriggerStart); err != nil {
		t.Fatal(err)
	}
	write(t, path, offersFile(1))
	if _, err := r2.Reload(TriggerWatch); err != nil {
		t.Errorf("with AllowShrink: %v", err)
	}
}

// TestTruncatedFileHeldBack: the rule file cut at each line boundary (a
// write that stopped half way) is never served with more than half of the
// offers gone: it either fails to load or is held back.
func TestTruncatedFileHeldBack(t *testing.T) {
	full := offersFile(8)
	lines := strings.SplitAfter(full, "\n")
	for cut := 1; cut < len(lines); cut++ {
		dir := t.TempDir()
		path := filepath.Join(dir, "offers.yaml")
		write(t, path, full)
		r := New(dir, Options{Logger: quiet()})
		first, err := r.Reload(TriggerStart)
		if err != nil {
			t.Fatal(err)
		}
		write(t, path, strings.Join(lines[:cut], ""))
		snap, err := r.Reload(TriggerWatch)
		if err == nil && 2*(8-len(snap.Ruleset.Offers)) > 8 {
			t.Errorf("cut after line %d: served %d of 8 offers", cut, len(snap.Ruleset.Offers))
		}
		if err != nil && r.Current() != first {
			t.Errorf("cut after line %d: a failed reload changed the ruleset", cut)
		}
	}
	_ = os.Remove
}
