package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args        []string
		pos         []string
		run, format string
		verbose     bool
	}{
		{[]string{"DIR"}, []string{"DIR"}, "", "text", false},
		{[]string{"DIR", "--format", "json"}, []string{"DIR"}, "", "json", false},
		{[]string{"--format", "json", "DIR", "--run", "vip"}, []string{"DIR"}, "vip", "json", false},
		{[]string{"--", "--format", "DIR"}, []string{"--format", "DIR"}, "", "text", false},
		{[]string{"DIR", "--", "--run"}, []string{"DIR", "--run"}, "", "text", false},
		// a "--" that is a flag's value does not end the flags
		{[]string{"--run", "--", "DIR", "--format", "json"}, []string{"DIR"}, "--", "json", false},
		// after a bool flag, "--" does end them
		{[]string{"-v", "--", "--format"}, []string{"--format"}, "", "text", true},
		{[]string{"--run=--", "--", "DIR"}, []string{"DIR"}, "--", "text", false},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		run := fs.String("run", "", "")
		format := fs.String("format", "text", "")
		v := fs.Bool("v", false, "")
		pos, err := parseInterspersed(fs, c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if !reflect.DeepEqual(pos, c.pos) || *run != c.run || *format != c.format || *v != c.verbose {
			t.Errorf("%q: positional %q, run %q, format %q, v %v; want %q, %q, %q, %v", c.args, pos, *run, *format, *v, c.pos, c.run, c.format, c.verbose)
		}
	}
}

// A command that panics exits 1 (a failure), saying so on stderr, not 2
// (Go's exit code for a panic, which the command line reserves for usage
// errors).
func TestPanicIsAFailure(t *testing.T) {
	var errb strings.Builder
	c := command{name: "boom", run: func(context.Context, []string, stdio) int { panic("a bug") }}
	if code := runCommand(context.Background(), c, nil, stdio{Out: io.Discard, Err: &errb}); code != exitFail {
		t.Errorf("exit %d, want %d", code, exitFail)
	}
	if !strings.Contains(errb.String(), "arbiter boom: internal error") || !strings.Contains(errb.String(), "a bug") {
		t.Errorf("stderr %q", errb.String())
	}
}

// TestBadFlagValueSaysWhatToWrite: a value a flag cannot take, on the
// command line or in its ARBITER_* variable, says which flag and what to
// write. Before, a duration, a bool or a number said only "parse error"
// (ARBITER_DRAIN_DELAY="5": parse error).
func TestBadFlagValueSaysWhatToWrite(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--drain-delay", "5"}, nil, []string{"--drain-delay", `"5"`, "a duration with its unit", "5s"}},
		{nil, map[string]string{"ARBITER_DRAIN_DELAY": "5"}, []string{"ARBITER_DRAIN_DELAY", "--drain-delay", "a duration with its unit", "5s"}},
		{[]string{"--no-auth=yes"}, nil, []string{"--no-auth", `"yes"`, "true or false"}},
		{nil, map[string]string{"ARBITER_NO_AUTH": "yes"}, []string{"ARBITER_NO_AUTH", "--no-auth", "true or false"}},
		{[]string{"--event-buffer", "many"}, nil, []string{"--event-buffer", `"many"`, "a whole number"}},
		{nil, map[string]string{"ARBITER_EVENT_BUFFER": "many"}, []string{"ARBITER_EVENT_BUFFER", "--event-buffer", "a whole number"}},
		{nil, map[string]string{"ARBITER_PROCS": "99999999999999999999"}, []string{"ARBITER_PROCS", "--procs", "a whole number"}},
	}
	for _, c := range cases {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var errb bytes.Buffer
		args := append([]string{"serve", "--rules", "testdata/e2e/rules"}, c.args...)
		code := run(context.Background(), args, stdio{Out: io.Discard, Err: &errb})
		first, _, _ := strings.Cut(errb.String(), "\n")
		if code != exitUsage {
			t.Errorf("%v %v: exit %d, want %d", c.args, c.env, code, exitUsage)
		}
		for _, w := range c.want {
			if !strings.Contains(first, w) {
				t.Errorf("%v %v: %q does not say %q", c.args, c.env, first, w)
			}
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}
}
