package events

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type rawMsg struct {
	subject string
	data    string
}

// reportFixture is the hand-computed example of the report, as the
// messages of a stream (subjects without the prefix):
//
//	control: c1 (2 decisions), c2..c5: 5 customers, 6 exposures; c3, c4, c5
//	  converted for 10, 20, 30 USD (c5's outcome comes from another service:
//	  no id, ts or experiments; its variant comes from its decision);
//	  revenue per customer [0 0 10 20 30], mean 12.
//	deep: d1 (2 decisions), d2..d5 decided, d6 only through an outcome whose
//	  decision is not in the stream but which carries its experiments: 6
//	  customers, 6 exposures; d2..d6 converted for 10..50 USD; revenue per
//	  customer [0 10 20 30 40 50], mean 25.
//	one outcome of a decision outside the experiment (unattributed), one
//	  unreadable outcome.
//
// Conversion: 3/5 against 5/6: d = 0.2333333, unpooled se 0.2667361,
// CI [-0.2894598, 0.7561265]; pooled p = 8/11, z = 0.8652232,
// P = 0.3869163. Revenue per customer: the Welch example of stats_test.go
// (d = 13, t = 1.3528950, df = 8.7931469, P = 0.2098467). Sample ratio:
// [5 6] against 50:50, chi² = 2·0.5²/5.5 = 0.0909091, P = 0.7630246.
func reportFixture() []rawMsg {
	exp := func(v string) string { return `[{"id":"other","variant":"a"},{"id":"disc","variant":"` + v + `"}]` }
	dec := func(id, cust, v string) rawMsg {
		return rawMsg{"decision.checkout", `{"type":"decision","id":"` + id + `","ts":"2026-11-22T10:00:00Z","customer_id":"` + cust +
			`","placement":"checkout","channel":"web","ruleset":"r1","segments":[],"experiments":` + exp(v) +
			`,"holdout":false,"cart_total":100.00,"currency":"USD","actions":[],"degraded":[],"took_us":100}`}
	}
	out := func(typ, id, decID, cust, value, v string) rawMsg {
		return rawMsg{"outcome." + typ, `{"type":"outcome","id":"` + id + `","ts":"2026-11-22T10:01:00Z","decision_id":"` + decID +
			`","customer_id":"` + cust + `","offer_id":"vip_10","outcome":"` + typ + `","value":` + value + `,"currency":"USD","experiments":` + exp(v) + `}`}
	}
	msgs := []rawMsg{
		{"rules.reloaded", `{"type":"rules_reloaded","id":"rld_1","ts":"2026-11-22T09:00:00Z","version":"r1","previous":"","result":"ok","errors":[],` +
			`"experiments":[{"id":"disc","traffic":100,"variants":[{"id":"control","weight":50},{"id":"deep","weight":50}]}]}`},
		dec("dcs_c1a", "c1", "control"), dec("dcs_c1b", "c1", "control"),
		dec("dcs_d1a", "d1", "deep"), dec("dcs_d1b", "d1", "deep"),
		{"decision.checkout", `{"type":"decision","id":"dcs_z1","customer_id":"z1","placement":"checkout","experiments":[],"holdout":true}`},
	}
	for _, c := range []string{"c2", "c3", "c4", "c5"} {
		msgs = append(msgs, dec("dcs_"+c, c, "control"))
	}
	for _, d := range []string{"d2", "d3", "d4", "d5"} {
		msgs = append(msgs, dec("dcs_"+d, d, "deep"))
	}
	msgs = append(msgs,
		out("impression", "out_1", "dcs_c1a", "c1", "0", "control"),
		out("impression", "out_2", "dcs_d1b", "d1", "0", "deep"),
		out("converted", "out_3", "dcs_c3", "c3", "10.00", "control"),
		out("converted", "out_4", "dcs_c4", "c4", "20", "control"),
		rawMsg{"outcome.converted", `{"decision_id":"dcs_c5","customer_id":"c5","offer_id":"vip_10","value":30,"currency":"USD"}`},
		out("converted", "out_6", "dcs_d2", "d2", "10", "deep"),
		out("converted", "out_7", "dcs_d3", "d3", "20", "deep"),
		out("converted", "out_8", "dcs_d4", "d4", "30", "deep"),
		out("converted", "out_9", "dcs_d5", "d5", "40.00", "deep"),
		out("converted", "out_10", "dcs_not_in_stream", "d6", "50", "deep"),
		rawMsg{"outcome.converted", `{"decision_id":"dcs_z1","customer_id":"z1","value":5,"currency":"USD"}`},
		rawMsg{"outcome.converted", `not json`},
	)
	return msgs
}

func checkFixtureReport(t *testing.T, r *Report) {
	t.Helper()
	if len(r.Variants) != 2 || r.Control != "control" {
		t.Fatalf("variants %+v", r.Variants)
	}
	c, d := r.Variants[0], r.Variants[1]
	if c.Customers != 5 || c.Exposures != 6 || c.ConvertedCustomers != 3 || c.Outcomes.Converted != 3 || c.Outcomes.Impression != 1 {
		t.Errorf("control %+v", c)
	}
	if d.Customers != 6 || d.Exposures != 6 || d.ConvertedCustomers != 5 || d.Outcomes.Converted != 5 || d.Outcomes.Impression != 1 {
		t.Errorf("deep %+v", d)
	}
	if len(c.Revenue) != 1 || c.Revenue[0].Total != (engine.Money{Minor: 6000, Exp: 2}) || d.Revenue[0].Total != (engine.Money{Minor: 15000, Exp: 2}) {
		t.Errorf("revenue %+v %+v", c.Revenue, d.Revenue)
	}
	near(t, "control rev/customer", c.Revenue[0].PerCustomer, 12, 1e-12)
	near(t, "deep rev/customer", d.Revenue[0].PerCustomer, 25, 1e-12)
	cv := d.Conversion
	if cv == nil {
		t.Fatal("no conversion uplift")
	}
	near(t, "conv diff", cv.Diff, 0.23333333333333333, 1e-12)
	near(t, "conv low", cv.Low, -0.28945982010285703, 1e-9)
	near(t, "conv high", cv.High, 0.7561264867695237, 1e-9)
	near(t, "conv z", cv.Z, 0.8652231568278273, 1e-9)
	near(t, "conv p", cv.P, 0.38691631776906808, 1e-9)
	if len(d.RevenueUplift) != 1 {
		t.Fatalf("revenue uplift %+v", d.RevenueUplift)
	}
	ru := d.RevenueUplift[0]
	near(t, "rev diff", ru.Diff, 13, 1e-9)
	near(t, "rev t", deref(ru.T), 1.3528950106151225, 1e-9)
	near(t, "rev df", ru.DF, 8.793146917258767, 1e-9)
	near(t, "rev p", ru.P, 0.2098466875966278, 1e-9)
	near(t, "srm chi2", r.SRM.Chi2, 0.09090909090909091, 1e-12)
	near(t, "srm p", r.SRM.P, 0.763024600552995, 1e-9)
	if r.SRM.Mismatch || !r.SRM.Checked {
		t.Errorf("srm %+v", r.SRM)
	}
	if r.Unattributed != 1 || r.Unreadable != 1 {
		t.Errorf("unattributed %d, unreadable %d", r.Unattributed, r.Unreadable)
	}
}

// TestReportHandComputed runs the report over the fixture published on a
// real stream (the embedded server, or ARBITER_TEST_NATS_URL).
func TestReportHandComputed(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	js := testJetStream(t, url)
	if err := EnsureStream(ctx, js, Options{Prefix: prefix}, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range reportFixture() {
		if _, err := js.Publish(ctx, prefix+"."+m.subject, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	var progressed bool
	r, err := ReadReport(ctx, url, "disc", ReportOptions{Prefix: prefix, Progress: func(read, total uint64) { progressed = read == total }})
	if err != nil {
		t.Fatal(err)
	}
	if !progressed {
		t.Error("no final progress call")
	}
	checkFixtureReport(t, r)
	if r.Events != uint64(len(reportFixture())) {
		t.Errorf("read %d events, want %d", r.Events, len(reportFixture()))
	}
	// --since excluding everything: an empty report, not a hang.
	r, err = ReadReport(ctx, url, "disc", ReportOptions{Prefix: prefix, Since: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Variants) != 0 || len(r.Warnings) == 0 {
		t.Errorf("report of nothing: %+v", r)
	}
	// --weights overrides the published weights and sets the control.
	w, _ := ParseWeights("deep=1,control=3")
	r, err = ReadReport(ctx, url, "disc", ReportOptions{Prefix: prefix, Weights: w})
	if err != nil {
		t.Fatal(err)
	}
	if r.Control != "deep" || r.SRM.WeightsFrom != "--weights" {
		t.Errorf("control %q, weights from %q", r.Control, r.SRM.WeightsFrom)
	}
}

// TestReportText checks the text form against a golden file, reading the
// fixture without a server.
func TestReportText(t *testing.T) {
	d := &reportData{experiment: "disc", decisions: map[string]decisionRec{}, exposures: map[string]int{},
		custVariant: map[string]string{}, conflicts: map[string]bool{}}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i, m := range reportFixture() {
		d.add("arbiter", "arbiter."+m.subject, []byte(m.data), at.Add(time.Duration(i)*time.Second))
	}
	r := d.compute(nil)
	r.Stream = "ARBITER"
	checkFixtureReport(t, r)
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not parse: %v", err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, text.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if text.String() != string(want) {
		t.Errorf("text report differs from %s (go test -run TestReportText -update):\n%s", golden, text.String())
	}
}

func TestReportSRMWarning(t *testing.T) {
	d := &reportData{experiment: "x", decisions: map[string]decisionRec{}, exposures: map[string]int{},
		custVariant: map[string]string{}, conflicts: map[string]bool{}}
	for i := 0; i < 1000; i++ {
		d.assign("a"+string(rune('0'+i%10))+strings.Repeat("x", i/10), "a")
	}
	for i := 0; i < 1200; i++ {
		d.assign("b"+string(rune('0'+i%10))+strings.Repeat("x", i/10), "b")
	}
	r := d.compute([]wire.VariantInfo{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}})
	if !r.SRM.Mismatch || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "SAMPLE RATIO MISMATCH") {
		t.Fatalf("no SRM warning: %+v %v", r.SRM, r.Warnings)
	}
}

func TestParseWeights(t *testing.T) {
	w, err := ParseWeights("control=50, deep=25.5")
	if err != nil || len(w) != 2 || w[1] != (wire.VariantInfo{ID: "deep", Weight: 25.5}) {
		t.Fatalf("%+v %v", w, err)
	}
	for _, bad := range []string{"", "control", "control=x", "=5", "a=-1", "a=0"} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("ParseWeights(%q): no error", bad)
		}
	}
}
