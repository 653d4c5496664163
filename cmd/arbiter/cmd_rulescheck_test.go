package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCmdRulesCheck(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string // regexps
	}{
		{"valid", []string{"testdata/rulescheck/good"}, exitOK,
			`^ok: 1 file, 1 profile field, 1 segment, 1 offer, 0 experiments, 0 tests; version [0-9a-f]{8}\n$`, `^$`},
		{"errors", []string{"testdata/rulescheck/bad"}, exitFail,
			"^testdata/rulescheck/bad/rules.yaml:5:19: unknown field `profile.lvt` in `profile.lvt >= 1000` \\(did you mean `profile.ltv`\\?\\)\n" +
				"testdata/rulescheck/bad/rules.yaml:8:16: offer `vip_10`: segments: unknown segment `vpi` \\(did you mean `vip`\\?\\)\n$",
			`^2 problems in testdata/rulescheck/bad\n$`},
		{"flag after dir", []string{"testdata/rulescheck/good", "--format", "text"}, exitOK, `^ok: `, `^$`},
		{"no dir", nil, exitUsage, `^$`, `give exactly one rules directory(.|\n)*Usage: arbiter rules check`},
		{"two dirs", []string{"a", "b"}, exitUsage, `^$`, `Usage:`},
		{"bad format", []string{"--format", "xml", "testdata/rulescheck/good"}, exitUsage, `^$`, `--format must be text or json`},
		{"unknown flag", []string{"--nope", "x"}, exitUsage, `^$`, `flag provided but not defined`},
		{"help", []string{"--help"}, exitOK, `Usage: arbiter rules check`, `^$`},
		{"missing dir", []string{"testdata/rulescheck/none"}, exitFail, `^$`, `no such file`},
		{"empty file", []string{"testdata/rulescheck/empty"}, exitFail,
			"^testdata/rulescheck/empty/rules.yaml:1:1: empty rule file", `^1 problem in testdata/rulescheck/empty\n$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := cmdRulesCheck(context.Background(), tc.args, stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out.String(), errb.String())
			}
			if !regexp.MustCompile(tc.out).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tc.out)
			}
			if !regexp.MustCompile(tc.err).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tc.err)
			}
		})
	}
}

func TestCmdRulesCheckJSON(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		code   int
		ok     bool
		errors int
	}{{"testdata/rulescheck/good", exitOK, true, 0}, {"testdata/rulescheck/bad", exitFail, false, 2}} {
		var out, errb bytes.Buffer
		code := cmdRulesCheck(context.Background(), []string{"--format", "json", tc.dir}, stdio{Out: &out, Err: &errb})
		if code != tc.code {
			t.Errorf("%s: exit %d", tc.dir, code)
		}
		var r struct {
			OK      bool   `json:"ok"`
			Version string `json:"version"`
			Errors  []struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Col     int    `json:"col"`
				Message string `json:"message"`
				Hint    string `json:"hint"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v\n%s", tc.dir, err, out.String())
		}
		if r.OK != tc.ok || len(r.Errors) != tc.errors || (tc.ok && len(r.Version) != 8) {
			t.Errorf("%s: %+v", tc.dir, r)
		}
		if !tc.ok && (r.Errors[0].File != filepath.Join(tc.dir, "rules.yaml") || r.Errors[0].Line != 5 || r.Errors[0].Col != 19 || r.Errors[0].Hint != "did you mean `profile.ltv`?") {
			t.Errorf("first error = %+v", r.Errors[0])
		}
		if !strings.Contains(out.String(), `"errors": [`) {
			t.Errorf("errors must be a list, never null: %s", out.String())
		}
	}
}
