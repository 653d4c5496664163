package httpapi

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/redact"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// LearningSources is what GET /v1/learning reads: the state of the
// statistics snapshot (a learning.Refresher's Status) and this process's
// recent trials. Either may be nil: no snapshot was ever taken, no trials.
type LearningSources struct {
	Status func() learning.Status
	Recent *learning.Recent
}

// LearningView is the body of GET /v1/learning (WAVE2's shape): the
// ruleset's learning settings, the snapshot's state, and per offer whose
// score reads propensity and per cell, the statistics and the posterior.
type LearningView struct {
	Method   string              `json:"method"` // "" when the ruleset does not learn
	Reward   string              `json:"reward,omitempty"`
	Prior    *PriorView          `json:"prior,omitempty"`
	HalfLife string              `json:"half_life,omitempty"` // e.g. "14d"; left out without decay
	Refresh  string              `json:"refresh,omitempty"`
	By       []string            `json:"by,omitempty"`
	Snapshot *SnapshotView       `json:"snapshot,omitempty"`
	Offers   []LearningOfferView `json:"offers"`
}

// PriorView is the Beta prior of every offer's rate.
type PriorView struct {
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
}

// SnapshotView is the state of this replica's statistics snapshot.
type SnapshotView struct {
	// RefreshedAt is when the snapshot in memory was read; nil: never.
	RefreshedAt *time.Time `json:"refreshed_at"`
	// AgeSeconds is its age now; nil: never read.
	AgeSeconds *float64 `json:"age_seconds"`
	// OK: decisions read it (it is not stale).
	OK bool `json:"ok"`
	// Error is the last refresh's error, when it failed.
	Error string `json:"error,omitempty"`
}

// LearningOfferView is one learning offer's cells.
type LearningOfferView struct {
	OfferID string             `json:"offer_id"`
	Cells   []LearningCellView `json:"cells"`
}

// LearningCellView is one offer's statistics in one cell: trials and
// successes (weighted by the half-life), the posterior Beta(alpha, beta),
// its mean and 95% credible interval, and the offer's share of the cell's
// trials on this replica in the last hour.
type LearningCellView struct {
	Cell          string     `json:"cell"`
	Trials        float64    `json:"trials"`
	Successes     float64    `json:"successes"`
	Alpha         float64    `json:"alpha"`
	Beta          float64    `json:"beta"`
	Mean          float64    `json:"mean"`
	CI95          [2]float64 `json:"ci95"`
	ShareLastHour float64    `json:"share_last_hour"`
}

// NewLearningView describes the learning of rs from the statistics
// snapshot st (the last good one, stale or not) and the recent trials, as
// of now. The cells listed per offer are "all", the ruleset's `by`
// segments, and any other cell the statistics hold for it.
func NewLearningView(rs *rules.Ruleset, st learning.Status, recent *learning.Recent, now time.Time) LearningView {
	lr := rs.Arbitration.Learning
	v := LearningView{Offers: []LearningOfferView{}}
	if lr == nil {
		return v
	}
	v.Method, v.Reward = lr.Method, lr.Reward
	v.Prior = &PriorView{Alpha: lr.PriorAlpha, Beta: lr.PriorBeta}
	v.HalfLife = durationText(lr.HalfLife)
	v.Refresh = durationText(lr.Refresh)
	v.By = append([]string{}, lr.By...)
	sv := &SnapshotView{OK: st.OK, Error: redact.Text(st.Err)} // as in the log: no URL password
	if !st.RefreshedAt.IsZero() {
		at := st.RefreshedAt.UTC()
		age := round(st.Age.Seconds(), 3)
		sv.RefreshedAt, sv.AgeSeconds = &at, &age
	}
	v.Snapshot = sv

	cells := append([]string{rules.CellAll}, lr.By...)
	stored := map[string]map[string]learning.Stat{}
	for _, c := range st.Snapshot.Cells() {
		if stored[c.Offer] == nil {
			stored[c.Offer] = map[string]learning.Stat{}
		}
		stored[c.Offer][c.Cell] = c.Stat
	}
	shares := map[string]map[string]float64{}
	shareOf := func(cell, offer string) float64 {
		if recent == nil {
			return 0
		}
		m, ok := shares[cell]
		if !ok {
			m = recent.Shares(cell, now)
			shares[cell] = m
		}
		return m[offer]
	}
	for _, id := range rs.LearningOffers() {
		ov := LearningOfferView{OfferID: id, Cells: []LearningCellView{}}
		seen := map[string]bool{}
		names := append([]string{}, cells...)
		var extra []string
		for c := range stored[id] {
			if !contains(names, c) {
				extra = append(extra, c)
			}
		}
		sort.Strings(extra)
		names = append(names, extra...)
		for _, c := range names {
			if seen[c] {
				continue
			}
			seen[c] = true
			s := stored[id][c]
			p := learning.NewPosterior(lr.PriorAlpha, lr.PriorBeta, s.Trials, s.Successes)
			lo, hi := p.CI95()
			ov.Cells = append(ov.Cells, LearningCellView{
				Cell: c, Trials: round(s.Trials, 3), Successes: round(s.Successes, 3),
				Alpha: round(p.Alpha, 3), Beta: round(p.Beta, 3), Mean: round(p.Mean(), 5),
				CI95: [2]float64{round(lo, 5), round(hi, 5)}, ShareLastHour: round(shareOf(c, id), 4),
			})
		}
		v.Offers = append(v.Offers, ov)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// durationText writes a whole number of days as "14d", anything else as
// Go does ("10s"); "" for 0.
func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func round(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// getLearning serves GET /v1/learning.
func (s *Server) getLearning(ctx *fasthttp.RequestCtx) {
	snap := s.o.Rules.Current()
	if snap == nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, wire.CodeNoRuleset, "no ruleset is loaded yet", "")
		return
	}
	var st learning.Status
	if f := s.o.Learning.Status; f != nil {
		st = f()
	}
	s.writeJSON(ctx, fasthttp.StatusOK, NewLearningView(snap.Ruleset, st, s.o.Learning.Recent, s.o.Now()))
}
