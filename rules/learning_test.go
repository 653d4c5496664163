package rules

import (
	"strings"
	"testing"
	"time"
)

const learnProfile = `
profile:
  ltv: number
segments:
  - id: vip
    when: profile.ltv >= 1000
  - id: at_risk
    when: profile.ltv < 10
offers:
  - id: margin
    discount: {percent: 10}
    score: propensity * (cart.total * 0.35 - discount)
  - id: plain
    kind: action
    priority: 5
  - id: by_discount
    discount: {amount: 5}
    score: 100 - discount
`

func TestLearningParsed(t *testing.T) {
	rs := mustLoad(t, map[string]string{
		"rules.yaml": learnProfile,
		"z.yaml": `
experiments:
  - id: b_second
    variants:
      - {id: static, weight: 100, learning: false, offers: {plain: {score: propensity}}}
`,
		"a.yaml": `
experiments:
  - id: z_first
    variants:
      - {id: on, weight: 50, learning: true}
      - {id: off, weight: 50}
arbitration:
  learning:
    method: mean
    reward: accepted
    by: [at_risk, vip]
    prior: {alpha: 1, beta: 19}
    refresh: 30s
    half_life: 14d
`,
	})
	lr := rs.Arbitration.Learning
	if lr == nil {
		t.Fatal("no learning")
	}
	if lr.Method != LearnMean || lr.Reward != RewardAccepted || len(lr.By) != 2 || lr.By[0] != "at_risk" || lr.By[1] != "vip" ||
		lr.PriorAlpha != 1 || lr.PriorBeta != 19 || lr.Refresh != 30*time.Second || lr.HalfLife != 14*24*time.Hour {
		t.Errorf("learning = %+v", lr)
	}
	if m := lr.PriorMean(); m != 0.05 {
		t.Errorf("prior mean %v", m)
	}
	reads := map[string]bool{}
	for _, o := range rs.Offers {
		reads[o.ID] = o.ReadsPropensity
	}
	if !reads["margin"] || reads["plain"] || reads["by_discount"] {
		t.Errorf("ReadsPropensity = %v", reads)
	}
	// experiments are sorted by id; Written keeps the order written (a.yaml before z.yaml)
	written := map[string]int{}
	for _, x := range rs.Experiments {
		written[x.ID] = x.Written
	}
	if written["z_first"] != 0 || written["b_second"] != 1 {
		t.Errorf("Written = %v", written)
	}
	for _, x := range rs.Experiments {
		for _, v := range x.Variants {
			switch x.ID + "/" + v.ID {
			case "z_first/on":
				if v.Learning == nil || !*v.Learning {
					t.Errorf("%s/%s: learning %v", x.ID, v.ID, v.Learning)
				}
			case "z_first/off":
				if v.Learning != nil {
					t.Errorf("%s/%s: learning %v, want unset", x.ID, v.ID, *v.Learning)
				}
			case "b_second/static":
				if v.Learning == nil || *v.Learning {
					t.Errorf("%s/%s: learning %v", x.ID, v.ID, v.Learning)
				}
				for _, o := range v.Offers {
					if o.ID == "plain" && !o.ReadsPropensity {
						t.Error("the override of plain reads propensity")
					}
				}
			}
		}
	}
}

func TestLearningDefaults(t *testing.T) {
	rs := mustLoad(t, map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning: {}\n"})
	lr := rs.Arbitration.Learning
	if lr == nil || lr.Method != LearnThompson || lr.Reward != RewardConverted || lr.By != nil ||
		lr.PriorAlpha != 1 || lr.PriorBeta != 1 || lr.Refresh != DefaultLearningRefresh || lr.HalfLife != 0 || lr.Pos.Line < 1 {
		t.Errorf("defaults = %+v", lr)
	}
	noLearning := mustLoad(t, map[string]string{"rules.yaml": "offers:\n  - {id: a, kind: action, score: discount + 1}\narbitration:\n  learning: null\n"})
	if noLearning.Arbitration.Learning != nil {
		t.Error("learning: null learns")
	}
}

// The learning section is part of the version: changing the prior makes
// another ruleset.
func TestLearningInVersion(t *testing.T) {
	a := mustLoad(t, map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning: {prior: {alpha: 1, beta: 19}}\n"})
	b := mustLoad(t, map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning: {prior: {alpha: 1, beta: 9}}\n"})
	if a.Version == b.Version {
		t.Error("the prior does not change the version")
	}
}

func TestLearningOffersAndTruthFiles(t *testing.T) {
	rs := mustLoad(t, map[string]string{
		"rules.yaml": learnProfile + "arbitration:\n  learning: {}\n",
		"x.yaml":     "experiments:\n  - id: x\n    variants:\n      - {id: a, weight: 100, offers: {plain: {score: propensity}}}\n",
		// a truth file of arbiter simulate beside the rules is not a rule file
		"shop_truth.yaml": "offers: {margin: {default: 0.1}}\nvalue: cart.total\n",
	})
	if got := rs.LearningOffers(); len(got) != 2 || got[0] != "margin" || got[1] != "plain" {
		t.Errorf("LearningOffers = %v", got)
	}
	for _, f := range rs.Files {
		if f == "shop_truth.yaml" {
			t.Error("the truth file is listed as a rule file")
		}
	}
	if _, err := Compile([]File{{Path: "a_truth.yml", Data: []byte("x: 1")}}); err != ErrNoRuleFiles {
		t.Errorf("only a truth file: %v", err)
	}
	if (&Ruleset{}).LearningOffers() != nil {
		t.Error("a ruleset that does not learn has learning offers")
	}
	for path, want := range map[string]bool{"shop_truth.yaml": true, "a/b_truth.yml": true, "truth.yaml": false, "x_truth.json": false} {
		if IsTruthFile(path) != want {
			t.Errorf("IsTruthFile(%q) != %v", path, want)
		}
	}
}

// Every key of the key table (arbitration.learning's among them) has its
// description, for the JSON Schema of the rule files.
func TestKeysDocumented(t *testing.T) {
	for _, o := range allObjDefs() {
		for _, k := range o.Keys {
			if k.Desc == "" {
				t.Errorf("%s: no description of %q", o.Name, k.Name)
			}
		}
	}
}

// A traffic file of arbiter simulate beside the rules is left out as a
// truth file is; one named otherwise is refused with a hint to rename it.
func TestTrafficFiles(t *testing.T) {
	const traffic = "currency: EUR\nplacements: {basket: 1}\ncategories:\n  skincare: {price: [14, 60]}\n"
	rs := mustLoad(t, map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning: {}\n", "shop_traffic.yaml": traffic})
	for _, f := range rs.Files {
		if f == "shop_traffic.yaml" {
			t.Error("the traffic file is listed as a rule file")
		}
	}
	if _, err := Compile([]File{{Path: "a_traffic.yml", Data: []byte(traffic)}}); err != ErrNoRuleFiles {
		t.Errorf("only a traffic file: %v", err)
	}
	es := loadErrs(t, map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning: {}\n", "traffic.yaml": traffic})
	if got := es.Error(); !strings.Contains(got, "traffic.yaml:2:1") || !strings.Contains(got, "name it shop_traffic.yaml") {
		t.Errorf("a traffic file named traffic.yaml: %v", got)
	}
	es = loadErrs(t, map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning: {}\n", "truth.yaml": "offers: {margin: {default: 0.1}}\nvalue: cart.total\n"})
	if got := es.Error(); !strings.Contains(got, "truth.yaml:2:1") || !strings.Contains(got, "name it shop_truth.yaml") {
		t.Errorf("a truth file named truth.yaml: %v", got)
	}
	for path, want := range map[string]bool{"shop_traffic.yaml": true, "a/b_traffic.yml": true, "traffic.yaml": false, "shop_truth.yaml": false} {
		if IsTrafficFile(path) != want {
			t.Errorf("IsTrafficFile(%q) != %v", path, want)
		}
	}
}

// Statistics are kept per UTC day and weighed by the age of their day, so
// a half-life under a day cannot be honoured (with 6h, this morning's
// trials would weigh as much as this minute's, and yesterday evening's a
// sixteenth): it is a load error at its line and column, and a day or
// more loads.
func TestHalfLifeAtLeastADay(t *testing.T) {
	for _, tc := range []struct {
		half string
		want string // "" loads
	}{
		{"1h", "rules.yaml:21:16: arbitration.learning.half_life must be at least 1d"},
		{"12h", "rules.yaml:21:16: arbitration.learning.half_life must be at least 1d"},
		{"23h59m", "rules.yaml:21:16: arbitration.learning.half_life must be at least 1d"},
		{"24h", ""},
		{"1d", ""},
		{"36h", ""},
		{"28d", ""},
	} {
		t.Run(tc.half, func(t *testing.T) {
			files := map[string]string{"rules.yaml": learnProfile + "arbitration:\n  learning:\n    half_life: " + tc.half + "\n"}
			if tc.want == "" {
				if rs := mustLoad(t, files); rs.Arbitration.Learning.HalfLife < 24*time.Hour {
					t.Errorf("half_life %s = %v", tc.half, rs.Arbitration.Learning.HalfLife)
				}
				return
			}
			es := loadErrs(t, files)
			if got := es.Error(); !strings.Contains(got, tc.want) || !strings.Contains(got, "per day") {
				t.Errorf("half_life %s: got %q, want %q and why (counts are kept per day)", tc.half, got, tc.want)
			}
		})
	}
}
