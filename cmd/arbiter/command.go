package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// subcommand is one subcommand's flags and help. Each parses its
// flags anywhere among the arguments, answers --help on stdout with exit 0,
// and answers a usage error on stderr as "arbiter NAME: what is wrong",
// then its help, with exit 2.
type subcommand struct {
	name string // as printed, e.g. "arbiter rules test"
	fs   *flag.FlagSet
	s    stdio
	// help writes the whole help; by default the text given to newSubcommand
	// followed by the flags' defaults.
	help func(w io.Writer)
}

// newSubcommand makes the flag set of the subcommand name; text, when not
// empty, is its help before the flags' defaults.
func newSubcommand(name, text string, s stdio) *subcommand {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &subcommand{name: name, fs: fs, s: s}
	c.help = func(w io.Writer) {
		fmt.Fprint(w, text)
		c.printDefaults(w)
	}
	return c
}

// printDefaults writes the flags with their usage and defaults.
func (c *subcommand) printDefaults(w io.Writer) {
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}

// parse parses args and returns the positional arguments. When ok is
// false the subcommand must stop with code: --help was asked (0), or the
// flags were wrong (2), and it has been said.
func (c *subcommand) parse(args []string) (pos []string, code int, ok bool) {
	pos, err := parseInterspersed(c.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.help(c.s.Out)
		return nil, exitOK, false
	}
	if err != nil {
		return nil, c.usageErr(flagError(c.fs, err)), false
	}
	return pos, 0, true
}

// badValue matches the flag package's error for a value a flag cannot
// take: the value, the flag's name, and why.
var badValue = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-(\S+): (.*)$`)

// flagError is the message of a flag parse error: for a bad value, the
// flag and what to write (Go's own says only "parse error").
func flagError(fs *flag.FlagSet, err error) string {
	m := badValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	f := fs.Lookup(m[2])
	if f == nil {
		return err.Error()
	}
	return fmt.Sprintf("--%s %s: %s", f.Name, m[1], withHint(f, m[3]))
}

// withHint adds to why a value was refused what the flag takes, when why
// is the flag package's bare "parse error" or "value out of range".
func withHint(f *flag.Flag, why string) string {
	if why != "parse error" && why != "value out of range" {
		return why
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return why
	}
	switch g.Get().(type) {
	case time.Duration:
		return why + ": write a duration with its unit, such as 500ms, 5s or 2m"
	case bool:
		return why + ": write true or false"
	case int, int64, uint, uint64:
		return why + ": write a whole number"
	case float64:
		return why + ": write a number"
	}
	return why
}

// usageErr says what is wrong with the subcommand line, then the help, on
// stderr, and returns the usage exit code.
func (c *subcommand) usageErr(msg string) int {
	fmt.Fprintf(c.s.Err, "%s: %s\n\n", c.name, msg)
	c.help(c.s.Err)
	return exitUsage
}

// parseInterspersed parses flags that may come before or after the
// positional arguments (arbiter rules test DIR --format json), and returns
// the positional ones. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if endedByDashes(fs, args[:len(args)-len(rest)]) {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// endedByDashes reports whether the flags parsed from consumed ended at a
// "--" of their own, not at a "--" given as a flag's value (--run --).
func endedByDashes(fs *flag.FlagSet, consumed []string) bool {
	n := len(consumed)
	if n == 0 || consumed[n-1] != "--" {
		return false
	}
	if n >= 2 {
		prev := consumed[n-2]
		if strings.HasPrefix(prev, "-") && !strings.Contains(prev, "=") {
			if f := fs.Lookup(strings.TrimLeft(prev, "-")); f != nil {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
					return false // the "--" was this flag's value
				}
			}
		}
	}
	return true
}

// isTerminal reports whether w is a terminal (a character device): progress
// lines and colours go only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
