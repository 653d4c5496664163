package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/arbiterhq/arbiter/adapters/httpapi"
	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/rules"
)

// learningWiring is a server's learning: the refresher that keeps the
// statistics snapshot fresh from the ledger (when the ledger keeps
// statistics, learning.Source), and this process's recent trials.
type learningWiring struct {
	refresher *learning.Refresher // nil: the ledger keeps no statistics
	recent    *learning.Recent
	current   atomic.Pointer[rules.Ruleset]
	stop      context.CancelFunc
	done      chan struct{}
}

// startLearning starts the refresher on led's statistics for rs, and
// registers the learning metrics. Stop it with stopLearning.
func startLearning(led engine.Ledger, rs *rules.Ruleset, m *metrics.Metrics, log *slog.Logger) *learningWiring {
	w := &learningWiring{recent: &learning.Recent{}, done: make(chan struct{})}
	w.current.Store(rs)
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	src, ok := led.(learning.Source)
	if !ok {
		close(w.done)
		if rs.Arbitration.Learning != nil {
			log.Warn("this ledger keeps no learning statistics: decisions use the prior mean")
		}
	} else {
		r, err := learning.NewRefresher(learning.RefresherOptions{Source: src, Clock: time.Now, Logger: log, OnRefresh: m.LearningRefreshed})
		if err != nil { // never: the source and the clock are set
			panic(err)
		}
		w.refresher = r
		w.configure(rs)
		// the first load before the first decision, bounded
		fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
		_ = r.Refresh(fctx)
		fcancel()
		go func() {
			defer close(w.done)
			r.Run(ctx)
		}()
	}
	m.LearningFunc(w.metrics)
	return w
}

// configure follows the ruleset in force: which offers to load, the
// half-life, the period.
func (w *learningWiring) configure(rs *rules.Ruleset) {
	if rs == nil {
		return
	}
	w.current.Store(rs)
	if w.refresher == nil {
		return
	}
	s := learning.Settings{Offers: rs.LearningOffers()}
	if lr := rs.Arbitration.Learning; lr != nil {
		s.HalfLife, s.Refresh = lr.HalfLife, lr.Refresh
	}
	w.refresher.Configure(s)
}

// statistics is the engine's Statistics: nil (the prior mean, not
// degraded) when the ledger keeps none.
func (w *learningWiring) statistics() engine.Statistics {
	if w.refresher == nil {
		return nil
	}
	return w.refresher
}

// sources is what GET /v1/learning reads.
func (w *learningWiring) sources() httpapi.LearningSources {
	s := httpapi.LearningSources{Recent: w.recent}
	if w.refresher != nil {
		s.Status = w.refresher.Status
	}
	return s
}

// metrics reads the learning metrics at a scrape.
func (w *learningWiring) metrics() metrics.LearningStats {
	var st learning.Status
	if w.refresher != nil {
		st = w.refresher.Status()
	}
	out := metrics.LearningStats{Loaded: !st.RefreshedAt.IsZero(), AgeSeconds: st.Age.Seconds(), OK: st.OK}
	rs := w.current.Load()
	if rs == nil {
		return out
	}
	v := httpapi.NewLearningView(rs, st, nil, time.Now())
	for _, o := range v.Offers {
		for _, c := range o.Cells {
			out.Cells = append(out.Cells, metrics.LearningCell{Offer: o.OfferID, Cell: c.Cell, Trials: c.Trials, Successes: c.Successes,
				Mean: c.Mean, Low: c.CI95[0], High: c.CI95[1]})
		}
	}
	return out
}

// stopLearning stops the refresher and waits for it.
func (w *learningWiring) stopLearning() {
	w.stop()
	<-w.done
}
