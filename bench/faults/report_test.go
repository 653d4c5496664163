package main

import (
	"strings"
	"testing"
	"time"
)

func TestReportMarkdown(t *testing.T) {
	rep := report{date: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC), commit: "abc", machine: "m", command: "go run ./bench/faults -short", short: true,
		results: []result{
			{name: "caps", goal: "exact | caps", status: "pass", figures: []figure{{name: "counted", value: "1000 of 1000", key: true}, {name: "load", value: "64 workers"}}, took: 3 * time.Second},
			{name: "nats-cluster", goal: "g", status: "not run: needs serve --stream-replicas"},
			{name: "bad", goal: "g", status: "fail", notes: []string{"FAILED: x"}},
		}}
	md := rep.markdown()
	for _, want := range []string{
		"- commit: `abc`",
		"| caps | exact \\| caps | **pass** | counted: 1000 of 1000 | 3s |",
		"| nats-cluster | g | **not run: needs serve --stream-replicas** |  | 0s |",
		"## bad",
		"- FAILED: x",
		"mode: short",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

func TestResultCheck(t *testing.T) {
	r := result{status: "pass"}
	r.check(true, "fine")
	if r.status != "pass" {
		t.Fatalf("a true check failed the result: %+v", r)
	}
	r.check(false, "counted %d", 999)
	if r.status != "fail" || len(r.notes) != 1 || r.notes[0] != "FAILED: counted 999" {
		t.Fatalf("a false check: %+v", r)
	}
}

func TestChoose(t *testing.T) {
	if _, err := choose("caps,nope"); err == nil || !strings.Contains(err.Error(), `no scenario "nope"`) {
		t.Fatalf("choose an unknown scenario: %v", err)
	}
	got, err := choose(" caps ,redis-down")
	if err != nil || len(got) != 2 || got[0].name != "caps" || got[1].name != "redis-down" {
		t.Fatalf("choose: %v %v", got, err)
	}
	all, _ := choose("")
	if len(all) != 8 {
		t.Fatalf("%d scenarios, want 8", len(all))
	}
}

func TestCorpus(t *testing.T) {
	seen := map[string]bool{}
	for _, q := range corpus() {
		if seen[q.name] {
			t.Errorf("two kinds named %q", q.name)
		}
		seen[q.name] = true
		if len(q.raw) == 0 {
			t.Errorf("%s: nothing to send", q.name)
		}
	}
	if len(seen) < 100 {
		t.Fatalf("%d kinds of bad request, want at least 100", len(seen))
	}
}

func TestHTTPReq(t *testing.T) {
	got := string(httpReq("POST", "/v1/decide", []string{"X-A: 1"}, "{}"))
	want := "POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer " + apiKey + "\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
	if got != want {
		t.Fatalf("httpReq:\n%q\nwant\n%q", got, want)
	}
	got = string(httpReq("POST", "/v1/decide", []string{"NO-AUTH", "Content-Length: abc"}, "{}"))
	if strings.Contains(got, "Authorization") || strings.Count(got, "Content-Length") != 1 {
		t.Fatalf("httpReq without a key, with its own length: %q", got)
	}
}

// Only a pass passes: a scenario not run (the flag it needs not found in
// serve --help) checked nothing, and CI's run of -short must fail on it
// rather than skip its checks in silence.
func TestPassed(t *testing.T) {
	for status, want := range map[string]bool{
		"pass": true,
		"fail": false,
		"error: not done within its bound of 40s": false,
		"not run: needs serve --drain-delay":      false,
	} {
		if got := passed(status); got != want {
			t.Errorf("passed(%q) = %v, want %v", status, got, want)
		}
	}
}
