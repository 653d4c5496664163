// Command profilegen writes generated customer profiles for the example
// ruleset (examples/checkout) to stdout, one JSON object per line, ready for
// `arbiter profiles import` or `arbiter serve --profiles`.
//
//	go run ./examples/profilegen/cmd/profilegen -seed 42 -n 10000 -ref 2026-11-27T20:00:00-05:00 > profiles.jsonl
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/arbiterhq/arbiter/examples/profilegen"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("profilegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same customers")
	n := fs.Int("n", 1000, "number of customers")
	ref := fs.String("ref", profilegen.DefaultRef().Format(time.RFC3339),
		"reference time (RFC 3339): recency, birthdays and anniversaries are placed around it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "profilegen: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *n < 0 {
		fmt.Fprintf(stderr, "profilegen: -n must be 0 or more, not %d\n", *n)
		return 2
	}
	t, err := time.Parse(time.RFC3339, *ref)
	if err != nil {
		fmt.Fprintf(stderr, "profilegen: -ref %q is not an RFC 3339 time (write e.g. 2026-11-18T15:00:00Z)\n", *ref)
		return 2
	}
	if err := profilegen.WriteJSONL(stdout, *seed, *n, t); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
