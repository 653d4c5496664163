package simulate

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// beauty loads the second shop of testdata/beauty: its rules, truth,
// traffic file and customers.
func beauty(t testing.TB) (*Truth, Options, func() *Report) {
	t.Helper()
	rs := loadRules(t, "testdata/beauty/rules")
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile("testdata/beauty/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tr, err := ParseTruth(rs, "shop_truth.yaml", read("rules/shop_truth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	traffic, err := ParseTraffic(rs, "traffic.yaml", read("traffic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := LoadProfiles(rs, "profiles.jsonl", bytes.NewReader(read("profiles.jsonl")))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Decisions: 20000, Seed: 3, Traffic: traffic, Profiles: ps}
	return tr, opts, func() *Report {
		t.Helper()
		rep, err := Run(context.Background(), rs, tr, opts)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
}

// TestRunAnotherShop: a second shop (testdata/beauty), in euros, whose
// offers are shown in the basket to customers of a skin type (a profile
// field the example shop lacks). The simulated traffic was always the
// example shop's (USD carts at checkout, cart and product, for generated
// customers with no skin type): none of its offers was ever eligible.
// Now its traffic file and its customers make the run: both offers are
// granted, learning finds which one each skin type takes, and comes close
// to the oracle.
func TestRunAnotherShop(t *testing.T) {
	_, opts, run := beauty(t)
	rep := run()
	for _, n := range rep.Notes {
		t.Errorf("note: %s", n)
	}
	st, l, o := rep.Strategies[Static], rep.Strategies[Learning], rep.Strategies[Oracle]
	t.Logf("static %+v\nlearning %+v\noracle %+v", *st, *l, *o)
	if o.Successes == 0 || l.Successes == 0 {
		t.Fatalf("no successes: the shop's offers were never granted")
	}
	if rep.Customers != len(opts.Profiles.List) || rep.Customers != 120 {
		t.Errorf("%d customers, want the file's 120", rep.Customers)
	}
	if !(l.Regret < st.Regret/2) {
		t.Errorf("learning's regret %v is not below half of static's %v", l.Regret, st.Regret)
	}
	if !(l.LastValuePerDecision >= 0.85*o.LastValuePerDecision) {
		t.Errorf("learning's last value per decision %v < 85%% of the oracle's %v", l.LastValuePerDecision, o.LastValuePerDecision)
	}
	if again := run(); again.Strategies[Learning].Value != l.Value {
		t.Error("the same seed gave another value")
	}
}

// TestRunAnotherShopSaysWhatItSimulated: an offer the traffic never meets
// is named with the traffic file's description, not the example shop's.
func TestRunAnotherShopSaysWhatItSimulated(t *testing.T) {
	tr, opts, _ := beauty(t)
	opts.Traffic.Placements = opts.Traffic.Placements[1:] // product only: no offer shows there
	opts.Decisions = 500
	rs := loadRules(t, "testdata/beauty/rules")
	rep, err := Run(context.Background(), rs, tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{
		"never granted: save_5, serum_15",
		"the one of traffic.yaml: carts in EUR of its categories (skincare, makeup, fragrance), at the placement product",
		"for the 120 customers of profiles.jsonl",
		"from 2026-03-02T09:00:00Z to 2026-03-02T09:16:38Z",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("no %q in the notes:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "USD") || strings.Contains(notes, "--traffic") || strings.Contains(notes, "--profiles") {
		t.Errorf("the notes speak of the example shop:\n%s", notes)
	}
	// generated customers: the note says so, and how to give the shop's
	opts.Profiles = nil
	if rep, err = Run(context.Background(), rs, tr, opts); err != nil {
		t.Fatal(err)
	}
	notes = strings.Join(rep.Notes, "\n")
	for _, want := range []string{"the one of traffic.yaml", "for customers of its profile generator", "give them (--profiles)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("no %q in the notes:\n%s", want, notes)
		}
	}
	// carts in a currency the rules have no rate for: the note names it
	gbp, err := ParseTraffic(rs, "gbp.yaml", []byte("currency: GBP\ncategories: {skincare: {price: [10, 20]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Traffic = gbp
	if rep, err = Run(context.Background(), rs, tr, opts); err != nil {
		t.Fatal(err)
	}
	if notes = strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "the simulated carts are in GBP, and the rules (currency: EUR) have no rate for GBP") ||
		!strings.Contains(notes, "carts in GBP of its categories (skincare), at the placement basket") {
		t.Errorf("notes:\n%s", notes)
	}
}

// A Traffic built by hand (not by ParseTraffic) runs too, and is not
// changed by the run.
func TestRunHandMadeTraffic(t *testing.T) {
	tr, opts, _ := beauty(t)
	rs := loadRules(t, "testdata/beauty/rules")
	opts.Decisions = 2000
	opts.Traffic = &Traffic{Currency: "EUR", Start: Start(), Placements: []Placement{{"basket", 1}},
		Categories: []Category{{Name: "skincare", Lo: 1000, Hi: 2000}}}
	rep, err := Run(context.Background(), rs, tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Strategies[Oracle].Successes == 0 || opts.Traffic.index != nil {
		t.Errorf("oracle %+v, index %v", *rep.Strategies[Oracle], opts.Traffic.index)
	}
}
