package rulefiles

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadSaysWhenItReassignsCustomers: a reload that inserts an
// experiment before another of its layer (a new file whose name sorts
// first) moves the customers of the running one to other buckets; the
// log says so, naming it, where it said nothing. A reload that adds an
// experiment after the others says nothing.
func TestReloadSaysWhenItReassignsCustomers(t *testing.T) {
	dir := t.TempDir()
	v := "    variants: [{id: control, weight: 50}, {id: test, weight: 50}]\n"
	write(t, filepath.Join(dir, "m_pricing.yaml"), "experiments:\n  - id: depth\n    layer: pricing\n    traffic: 50\n"+v)
	var log bytes.Buffer
	r := New(dir, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if _, err := r.Reload(TriggerStart); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "z_later.yaml"), "experiments:\n  - id: later\n    layer: pricing\n    traffic: 20\n"+v)
	if _, err := r.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "re-assigns") {
		t.Fatalf("an experiment added after the others moves no one, but the log says:\n%s", log.String())
	}
	write(t, filepath.Join(dir, "a_new.yaml"), "experiments:\n  - id: early\n    layer: pricing\n    traffic: 10\n"+v)
	if _, err := r.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=WARN", "re-assigns a running experiment's customers",
		`experiment="depth: its range of layer pricing moved from 0-4999 to 1000-5999"`,
		`experiment="later: its range of layer pricing moved from 5000-6999 to 6000-7999"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestReloadSaysWhenTheRewardChanges: a reload that changes what learning
// counts as a success (accepted to converted) leaves the offers' counts
// mixing the two; the log says so and what to run. A reload that keeps
// the reward, or that turns learning on, says nothing.
func TestReloadSaysWhenTheRewardChanges(t *testing.T) {
	dir := t.TempDir()
	rules := func(learning string) string {
		return "offers:\n  - id: o\n    kind: action\n    placements: [checkout]\n    score: 1\n" + learning
	}
	write(t, filepath.Join(dir, "rules.yaml"), rules(""))
	var log bytes.Buffer
	r := New(dir, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	for _, step := range []struct{ learning, want string }{
		{"", ""},
		{"arbitration:\n  learning: {reward: accepted}\n", ""},              // learning on: nothing was counted before
		{"arbitration:\n  learning: {reward: accepted, refresh: 5s}\n", ""}, // the same reward
		{"arbitration:\n  learning: {}\n", `reward=converted previous_reward=accepted`},
	} {
		log.Reset()
		write(t, filepath.Join(dir, "rules.yaml"), rules(step.learning))
		if _, err := r.Reload(TriggerSignal); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(log.String(), "what learning counts as a success")
		if got != (step.want != "") || step.want != "" && !strings.Contains(log.String(), step.want) {
			t.Errorf("reload to %q: the log says:\n%s\nwant a warning: %v (%s)", step.learning, log.String(), step.want != "", step.want)
		}
	}
}
