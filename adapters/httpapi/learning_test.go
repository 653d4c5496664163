package httpapi

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/rules"
)

const learningRulesYAML = `
profile:
  ltv: number
segments:
  - id: vip
    when: profile.ltv >= 1000
offers:
  - id: stay_with_us
    discount: {percent: 10}
    score: propensity * (cart.total * 0.35 - discount)
  - id: nudge
    kind: action
experiments:
  - id: x
    variants:
      - id: a
        weight: 100
        offers:
          nudge: {score: propensity * 10}
arbitration:
  learning:
    method: thompson
    by: [vip]
    prior: {alpha: 1, beta: 19}
    half_life: 14d
`

func learningRuleset(t testing.TB) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Compile([]rules.File{{Path: "rules.yaml", Data: []byte(learningRulesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestGetLearning(t *testing.T) {
	v := loadOpenAPI(t)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	rs := learningRuleset(t)
	day := learning.Day(now)
	snap := learning.NewSnapshot([]learning.Count{
		{Offer: "stay_with_us", Cell: "vip", Day: day, Trials: 200, Successes: 12},
		{Offer: "stay_with_us", Cell: "old_cell", Day: day - 14, Trials: 10, Successes: 2},
	}, now.Add(-3200*time.Millisecond), 14*24*time.Hour)
	recent := &learning.Recent{}
	for i := 0; i < 3; i++ {
		recent.Trial("stay_with_us", "vip", now.Add(-time.Minute))
	}
	recent.Trial("nudge", "vip", now.Add(-time.Minute))
	h := newHarness(t, true, func(o *Options) {
		o.Rules = rulefiles.New("unused", rulefiles.Options{Logger: quietLog(), Load: func() (*rules.Ruleset, error) { return rs, nil }})
		_, _ = o.Rules.Reload(rulefiles.TriggerStart)
		o.Now = func() time.Time { return now }
		o.Learning = LearningSources{Recent: recent, Status: func() learning.Status {
			return learning.Status{RefreshedAt: snap.At, Age: now.Sub(snap.At), OK: true, Snapshot: snap}
		}}
	})
	r := h.do("GET", "/v1/learning", "")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var body any
	_ = json.Unmarshal(r.body, &body)
	if err := v.check("$", v.response(t, "/v1/learning", "GET", 200), body); err != nil {
		t.Errorf("openapi: %v\n%s", err, r.body)
	}
	var got LearningView
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "thompson" || got.Reward != "converted" || got.Prior.Alpha != 1 || got.Prior.Beta != 19 ||
		got.HalfLife != "14d" || got.Refresh != "10s" || !got.Snapshot.OK || *got.Snapshot.AgeSeconds != 3.2 ||
		!got.Snapshot.RefreshedAt.Equal(snap.At) {
		t.Errorf("settings: %s", r.body)
	}
	if len(got.Offers) != 2 || got.Offers[0].OfferID != "nudge" || got.Offers[1].OfferID != "stay_with_us" {
		t.Fatalf("offers (nudge learns in a variant): %s", r.body)
	}
	cells := got.Offers[1].Cells
	if len(cells) != 3 || cells[0].Cell != "all" || cells[1].Cell != "vip" || cells[2].Cell != "old_cell" {
		t.Fatalf("cells: %+v", cells)
	}
	vip := cells[1]
	if vip.Trials != 200 || vip.Successes != 12 || vip.Alpha != 13 || vip.Beta != 207 || math.Abs(vip.Mean-13.0/220) > 1e-5 ||
		!(vip.CI95[0] < vip.Mean && vip.Mean < vip.CI95[1]) || vip.ShareLastHour != 0.75 {
		t.Errorf("vip: %+v", vip)
	}
	if old := cells[2]; old.Trials != 5 || old.Successes != 1 { // 14 days old: half weight
		t.Errorf("old cell: %+v", old)
	}
	if all := cells[0]; all.Trials != 0 || all.Alpha != 1 || all.Beta != 19 || all.Mean != 0.05 || all.ShareLastHour != 0 {
		t.Errorf("all: %+v", all)
	}
	if got.Offers[0].Cells[1].ShareLastHour != 0.25 {
		t.Errorf("nudge share: %+v", got.Offers[0].Cells)
	}

	// never refreshed: null age, not ok
	h2 := newHarness(t, true, func(o *Options) {
		o.Rules = rulefiles.New("unused", rulefiles.Options{Logger: quietLog(), Load: func() (*rules.Ruleset, error) { return rs, nil }})
		_, _ = o.Rules.Reload(rulefiles.TriggerStart)
	})
	r = h2.do("GET", "/v1/learning", "")
	_ = json.Unmarshal(r.body, &body)
	if err := v.check("$", v.response(t, "/v1/learning", "GET", 200), body); err != nil || r.status != 200 {
		t.Errorf("never refreshed: %v %s", err, r.body)
	}
	snapView := body.(map[string]any)["snapshot"].(map[string]any)
	if snapView["ok"] != false || snapView["age_seconds"] != nil || snapView["refreshed_at"] != nil {
		t.Errorf("never refreshed: %s", r.body)
	}
}

func TestGetLearningWithoutLearning(t *testing.T) {
	v := loadOpenAPI(t)
	h := newHarness(t, true, nil)
	r := h.do("GET", "/v1/learning", "")
	if r.status != 200 || string(r.body) != `{"method":"","offers":[]}` {
		t.Errorf("%d %s", r.status, r.body)
	}
	empty := newHarness(t, false, nil)
	r = empty.do("GET", "/v1/learning", "")
	var body any
	_ = json.Unmarshal(r.body, &body)
	if err := v.check("$", v.response(t, "/v1/learning", "GET", 503), body); err != nil || r.status != 503 {
		t.Errorf("no ruleset: %d %v %s", r.status, err, r.body)
	}
	keyed := newHarness(t, true, func(o *Options) { o.APIKeys = []string{"k"} })
	if r := keyed.do("GET", "/v1/learning", ""); r.status != 401 {
		t.Errorf("without a key: %d", r.status)
	}
	if r := keyed.do("POST", "/v1/learning", "{}", "Authorization", "Bearer k"); r.status != 405 || r.header["Allow"] != "GET, HEAD" {
		t.Errorf("POST: %d %v", r.status, r.header)
	}
}

// TestLearningViewRedactsTheRefreshError: the statistics' last error is
// shown to read keys and in `arbiter learning show`; a Redis URL or a
// credential in it (a dial error naming the URL, an AUTH failure) is
// redacted as in the log, not echoed.
func TestLearningViewRedactsTheRefreshError(t *testing.T) {
	rs := learningRuleset(t)
	st := learning.Status{Err: "ledger: learning counts: dial redis://arbiter:s3cret-pw@redis-7.internal:6379/0: connection refused"}
	v := NewLearningView(rs, st, nil, time.Now())
	if v.Snapshot == nil || v.Snapshot.Error == "" {
		t.Fatalf("no error shown: %+v", v.Snapshot)
	}
	if strings.Contains(v.Snapshot.Error, "s3cret-pw") || !strings.Contains(v.Snapshot.Error, "connection refused") {
		t.Errorf("error shown as %q", v.Snapshot.Error)
	}
}

// docs/api.md's example of GET /v1/learning is what the server answers
// for its posteriors: each cell's alpha and beta are the prior plus its
// counts, and its mean and ci95 those of Beta(alpha, beta), rounded as
// the view rounds them.
func TestLearningDocExampleFigures(t *testing.T) {
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i := strings.Index(doc, "## GET /v1/learning")
	if i < 0 {
		t.Fatal("docs/api.md has no GET /v1/learning section")
	}
	doc = doc[i:]
	j := strings.Index(doc, "```json\n")
	k := strings.Index(doc[j+8:], "```")
	if j < 0 || k < 0 {
		t.Fatal("no JSON example in the GET /v1/learning section")
	}
	var v LearningView
	if err := json.Unmarshal([]byte(doc[j+8:j+8+k]), &v); err != nil {
		t.Fatalf("the example is not a LearningView: %v", err)
	}
	if v.Prior == nil || len(v.Offers) == 0 {
		t.Fatal("the example has no prior or no offers")
	}
	for _, o := range v.Offers {
		for _, c := range o.Cells {
			p := learning.NewPosterior(v.Prior.Alpha, v.Prior.Beta, c.Trials, c.Successes)
			lo, hi := p.CI95()
			want := [5]float64{round(p.Alpha, 3), round(p.Beta, 3), round(p.Mean(), 5), round(lo, 5), round(hi, 5)}
			got := [5]float64{c.Alpha, c.Beta, c.Mean, c.CI95[0], c.CI95[1]}
			if got != want {
				t.Errorf("docs/api.md, %s/%s: alpha, beta, mean, ci95 = %v, the server answers %v", o.OfferID, c.Cell, got, want)
			}
		}
	}
}
