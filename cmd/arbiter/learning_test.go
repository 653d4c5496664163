package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/rules"
)

// grantAll is a ledger that grants everything and keeps no statistics.
type grantAll struct{}

func (grantAll) Reserve(_ context.Context, p *engine.Plan) ([]engine.Result, error) {
	return p.Walk(func(int) engine.Result { return engine.Granted }), nil
}

// statsLedger is a ledger that keeps learning statistics, as both ledgers
// (adapters/ledger, memledger) do: it implements learning.Source.
type statsLedger struct {
	grantAll
	mu    sync.Mutex
	asked [][]string
}

func (l *statsLedger) Counts(_ context.Context, offers []string) ([]learning.Count, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, offers)
	var out []learning.Count
	for _, o := range offers {
		out = append(out, learning.Count{Offer: o, Cell: "all", Day: learning.Day(time.Now()), Trials: 100, Successes: 30})
	}
	return out, nil
}

func (l *statsLedger) lastAsked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.asked[len(l.asked)-1]
}

func compileRules(t *testing.T, src string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Compile([]rules.File{{Path: "r.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestStartLearning(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs := compileRules(t, "offers:\n  - {id: a, kind: action, score: propensity}\n  - {id: b, kind: action}\narbitration:\n  learning: {prior: {alpha: 1, beta: 1}}\n")
	led := &statsLedger{}
	w := startLearning(led, rs, metrics.New(), log)
	defer w.stopLearning()
	st := w.statistics()
	if st == nil {
		t.Fatal("a ledger with statistics: no engine statistics")
	}
	// the first load happened before startLearning returned
	if tr, su, ok := st.Counts("a", "all"); !ok || tr != 100 || su != 30 {
		t.Errorf("counts %v %v %v", tr, su, ok)
	}
	if got := led.lastAsked(); len(got) != 1 || got[0] != "a" {
		t.Errorf("asked for %v", got)
	}
	// a reload that makes b learn too is loaded at once
	w.configure(compileRules(t, "offers:\n  - {id: a, kind: action, score: propensity}\n  - {id: b, kind: action, score: propensity}\narbitration:\n  learning: {}\n"))
	deadline := time.Now().Add(5 * time.Second)
	for len(led.lastAsked()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("not reloaded after the ruleset changed: %v", led.lastAsked())
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
	m := w.metrics()
	if !m.OK || len(m.Cells) != 2 || m.Cells[0].Offer != "a" || m.Cells[0].Trials != 100 {
		t.Errorf("metrics %+v", m)
	}
	if s := w.sources(); s.Status == nil || s.Recent == nil || !s.Status().OK {
		t.Error("sources")
	}

	// a ledger without statistics: no engine statistics (the prior), no refresher
	plain := startLearning(grantAll{}, rs, metrics.New(), log)
	defer plain.stopLearning()
	if plain.statistics() != nil || plain.sources().Status != nil {
		t.Error("a ledger without statistics has a refresher")
	}
	if m := plain.metrics(); m.OK || m.Loaded {
		t.Errorf("metrics without statistics: %+v", m)
	}
}
