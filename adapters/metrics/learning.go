package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// LearningCell is one offer's learning statistics in one cell, as the
// metrics export them.
type LearningCell struct {
	Offer, Cell       string
	Trials, Successes float64 // weighted by the half-life
	Mean, Low, High   float64 // the posterior mean and its 95% credible interval
}

// LearningStats is the state of a replica's learning statistics.
type LearningStats struct {
	// Loaded: a snapshot was ever read; AgeSeconds is its age.
	Loaded     bool
	AgeSeconds float64
	// OK: decisions read the snapshot (it is not stale).
	OK    bool
	Cells []LearningCell
}

// Refresh results, the values of the "result" label of
// arbiter_learning_refreshes_total.
const (
	RefreshOK    = "ok"
	RefreshError = "error"
)

var (
	descTrials = prometheus.NewDesc("arbiter_learning_trials",
		"Learning trials (grants of offers whose score reads propensity) per offer and cell, weighted by the half-life, in this replica's snapshot.",
		[]string{"offer", "cell"}, nil)
	descSuccesses = prometheus.NewDesc("arbiter_learning_successes",
		"Learning successes (reward outcomes of those grants) per offer and cell, weighted by the half-life.",
		[]string{"offer", "cell"}, nil)
	descMean = prometheus.NewDesc("arbiter_learning_posterior_mean",
		"The posterior mean of the offer's reward rate in the cell.", []string{"offer", "cell"}, nil)
	descLow = prometheus.NewDesc("arbiter_learning_posterior_ci95_low",
		"The lower end of the 95% credible interval of the offer's reward rate in the cell.", []string{"offer", "cell"}, nil)
	descHigh = prometheus.NewDesc("arbiter_learning_posterior_ci95_high",
		"The upper end of the 95% credible interval of the offer's reward rate in the cell.", []string{"offer", "cell"}, nil)
	descAge = prometheus.NewDesc("arbiter_learning_snapshot_age_seconds",
		"Age of the learning statistics snapshot this replica decides from (absent until the first refresh).", nil, nil)
	descOK = prometheus.NewDesc("arbiter_learning_snapshot_ok",
		"1 while decisions read the statistics snapshot; 0 when it is missing or stale (decisions use the prior, degraded learning_unavailable).", nil, nil)
)

// learningCollector reads the learning statistics at each scrape.
type learningCollector struct{ read func() LearningStats }

func (c learningCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTrials, descSuccesses, descMean, descLow, descHigh, descAge, descOK} {
		ch <- d
	}
}

func (c learningCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.read()
	ok := 0.0
	if st.OK {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descOK, prometheus.GaugeValue, ok)
	if st.Loaded {
		ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, st.AgeSeconds)
	}
	for _, cell := range st.Cells {
		ch <- prometheus.MustNewConstMetric(descTrials, prometheus.GaugeValue, cell.Trials, cell.Offer, cell.Cell)
		ch <- prometheus.MustNewConstMetric(descSuccesses, prometheus.GaugeValue, cell.Successes, cell.Offer, cell.Cell)
		ch <- prometheus.MustNewConstMetric(descMean, prometheus.GaugeValue, cell.Mean, cell.Offer, cell.Cell)
		ch <- prometheus.MustNewConstMetric(descLow, prometheus.GaugeValue, cell.Low, cell.Offer, cell.Cell)
		ch <- prometheus.MustNewConstMetric(descHigh, prometheus.GaugeValue, cell.High, cell.Offer, cell.Cell)
	}
}

// LearningFunc exports the learning statistics, read at each scrape:
// arbiter_learning_trials, _successes, _posterior_mean,
// _posterior_ci95_low and _high per offer and cell,
// arbiter_learning_snapshot_age_seconds and arbiter_learning_snapshot_ok;
// and arbiter_learning_refreshes_total, counted by LearningRefreshed. Call
// it once.
func (m *Metrics) LearningFunc(read func() LearningStats) {
	m.reg.MustRegister(learningCollector{read: read}, m.learningRefreshes())
}

func (m *Metrics) learningRefreshes() *prometheus.CounterVec {
	m.refreshOnce.Do(func() {
		m.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbiter_learning_refreshes_total",
			Help: "Reloads of the learning statistics snapshot, by result (ok, error).",
		}, []string{"result"})
	})
	return m.refreshes
}

// LearningRefreshed counts one reload of the learning statistics (err nil:
// it succeeded).
func (m *Metrics) LearningRefreshed(err error) {
	r := RefreshOK
	if err != nil {
		r = RefreshError
	}
	m.learningRefreshes().WithLabelValues(r).Inc()
}
