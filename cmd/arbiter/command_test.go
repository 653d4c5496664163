package main

import (
	"flag"
	"io"
	"reflect"
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
