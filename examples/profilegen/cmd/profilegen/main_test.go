package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/arbiterhq/arbiter/examples/profilegen"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		lines    int
		errMatch string
	}{
		{"defaults", nil, 0, 1000, ""},
		{"count", []string{"-n", "3", "-seed", "5"}, 0, 3, ""},
		{"ref", []string{"-n", "2", "-ref", "2026-11-27T20:00:00-05:00"}, 0, 2, ""},
		{"bad ref", []string{"-ref", "yesterday"}, 2, 0, "not an RFC 3339 time"},
		{"negative n", []string{"-n", "-1"}, 2, 0, "-n must be 0 or more"},
		{"stray argument", []string{"extra"}, 2, 0, "unexpected argument"},
		{"unknown flag", []string{"-x"}, 2, 0, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			if got := strings.Count(out.String(), "\n"); got != tt.lines {
				t.Errorf("%d lines, want %d", got, tt.lines)
			}
			if tt.errMatch != "" && !strings.Contains(errb.String(), tt.errMatch) {
				t.Errorf("stderr %q does not say %q", errb.String(), tt.errMatch)
			}
		})
	}
}

func TestRunMatchesLibrary(t *testing.T) {
	var out, lib bytes.Buffer
	if code := run([]string{"-n", "20", "-seed", "9"}, &out, &bytes.Buffer{}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if err := profilegen.WriteJSONL(&lib, 9, 20, profilegen.DefaultRef()); err != nil {
		t.Fatal(err)
	}
	if out.String() != lib.String() {
		t.Error("the command's output differs from WriteJSONL with the same arguments")
	}
}
