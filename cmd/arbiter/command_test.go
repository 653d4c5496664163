package main

import (
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
