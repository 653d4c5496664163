package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/report/reporttest"
	"github.com/arbiterhq/arbiter/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// collect adds evs to a new Collector of experiment id.
func collect(id string, evs []report.Event) *report.Collector {
	c := report.NewCollector(id)
	for _, ev := range evs {
		c.Add(ev)
	}
	return c
}

// TestReportHandComputed checks the example's numbers, and that the
// report comes out the same when computed twice.
func TestReportHandComputed(t *testing.T) {
	c := collect(reporttest.Experiment, reporttest.Events())
	r := c.Report(report.Weights{})
	reporttest.Check(t, r)
	if r.Events != uint64(len(reporttest.Events())) {
		t.Errorf("read %d events, want %d", r.Events, len(reporttest.Events()))
	}
	if again := c.Report(report.Weights{}); !reflect.DeepEqual(r, again) {
		t.Errorf("a second Report differs:\n%+v\n%+v", r, again)
	}
	// Weights given by the caller override the published ones and set the control.
	w, _ := report.ParseWeights("deep=1,control=3")
	r = c.Report(report.Weights{From: "--weights", Variants: w})
	if r.Control != "deep" || r.SRM.WeightsFrom != "--weights" {
		t.Errorf("control %q, weights from %q", r.Control, r.SRM.WeightsFrom)
	}
}

// TestReportText checks the text form against a golden file.
func TestReportText(t *testing.T) {
	r := collect(reporttest.Experiment, reporttest.Events()).Report(report.Weights{})
	r.Stream = "ARBITER"
	reporttest.Check(t, r)
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
	var evs []report.Event
	for _, g := range []struct {
		v string
		n int
	}{{"a", 1000}, {"b", 1200}} {
		v := g.v
		for i := 0; i < g.n; i++ {
			evs = append(evs, report.Event{Decision: &report.Decision{ID: "dcs_" + v + strconv.Itoa(i), CustomerID: v + strconv.Itoa(i),
				Experiments: []wire.Assignment{{ID: "x", Variant: v}}}})
		}
	}
	r := collect("x", evs).Report(report.Weights{From: "--weights", Variants: []report.Variant{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}}})
	if !r.SRM.Mismatch || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "SAMPLE RATIO MISMATCH") {
		t.Fatalf("no SRM warning: %+v %v", r.SRM, r.Warnings)
	}
}

// TestReportNothing: a stream without the experiment gives an empty
// report that says so (and only that).
func TestReportNothing(t *testing.T) {
	r := collect("x", reporttest.Events()).Report(report.Weights{})
	if len(r.Variants) != 0 || r.Variants == nil || r.Control != "" {
		t.Errorf("variants %+v, control %q", r.Variants, r.Control)
	}
	if want := []string{`no decision event enrolled anyone in experiment "x"`}; !reflect.DeepEqual(r.Warnings, want) {
		t.Errorf("warnings %q, want %q", r.Warnings, want)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"variants": []`) {
		t.Errorf("JSON %s %v", js.String(), err)
	}
}

func TestParseWeights(t *testing.T) {
	w, err := report.ParseWeights("control=50, deep=25.5")
	if err != nil || len(w) != 2 || w[1] != (report.Variant{ID: "deep", Weight: 25.5}) {
		t.Fatalf("%+v %v", w, err)
	}
	for _, bad := range []string{"", "control", "control=x", "=5", "a=-1", "a=0", "a=+Inf"} {
		if _, err := report.ParseWeights(bad); err == nil {
			t.Errorf("ParseWeights(%q): no error", bad)
		}
	}
}

// TestParseWeightsStrict: --weights as people type it. Spaces around "="
// made the id "control " (trailing space), which matches no variant of the
// events: the report showed an empty "control " as the control and the
// real control as an extra variant. A variant named twice compared the
// control with itself; "50x" read as 50.
func TestParseWeightsStrict(t *testing.T) {
	w, err := report.ParseWeights(" control = 50 , deep =50")
	if err != nil || len(w) != 2 || w[0] != (report.Variant{ID: "control", Weight: 50}) || w[1] != (report.Variant{ID: "deep", Weight: 50}) {
		t.Errorf("spaces around '=': %+v %v", w, err)
	}
	for _, c := range []struct{ in, want string }{
		{"control=50,control=50", `"control" is named twice`},
		{"control=50x", `"control=50x"`},
		{"control=50,deep=", `"deep="`},
	} {
		if _, err := report.ParseWeights(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseWeights(%q): error %v, want one saying %s", c.in, err, c.want)
		}
	}
}
