package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/report"
)

// cmdExperimentsReport reads the event stream (events.ReadStream), decodes
// each event for the report (events.ReportEvent) and prints the report of
// one experiment (package report): per-variant conversion, revenue and
// uplift, with a sample-ratio check.
func cmdExperimentsReport(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter experiments report", "", s)
	fs := c.fs
	natsURL := fs.String("nats", os.Getenv("ARBITER_NATS_URL"), "NATS server URL, with JetStream (default $ARBITER_NATS_URL)")
	prefix := fs.String("prefix", events.DefaultPrefix, "prefix of Arbiter's subjects")
	since := fs.Duration("since", 0, "read only the events stored in the last DURATION (e.g. 168h); default: the whole stream")
	format := fs.String("format", "text", "output: text or json")
	weights := fs.String("weights", "", "variant weights in order, the first is the control, e.g. control=50,deep=50 (default: from the latest rules_reloaded event)")
	c.help = func(w io.Writer) {
		fmt.Fprintln(w, "Usage: arbiter experiments report --nats URL EXPERIMENT_ID [--since DURATION] [--format text|json] [--weights V=W,...]")
		fmt.Fprintln(w, "\nReads the JetStream event stream up to its end and prints, per variant: customers, exposures,")
		fmt.Fprintln(w, "outcomes, conversion rate, revenue per customer, the uplift against the first variant with a 95%")
		fmt.Fprintln(w, "confidence interval and p-value, and a sample-ratio-mismatch check (docs/events.md).")
		fmt.Fprintln(w, "\nFlags:")
		c.printDefaults(w)
	}
	// Flags may come after the experiment id.
	positional, code, ok := c.parse(args)
	if !ok {
		return code
	}
	usageErr := c.usageErr
	if *prefix == "" {
		*prefix = events.DefaultPrefix
	}
	opts := events.ReadOptions{Prefix: *prefix, Since: *since, Now: time.Now, Name: "arbiter experiments report"}
	var override report.Weights
	switch {
	case len(positional) != 1:
		return usageErr("give exactly one EXPERIMENT_ID")
	case *natsURL == "":
		return usageErr("--nats URL is required (or ARBITER_NATS_URL), e.g. --nats nats://127.0.0.1:4222")
	case *since < 0:
		return usageErr("--since must be positive, e.g. --since 168h")
	case *format != "text" && *format != "json":
		return usageErr(fmt.Sprintf("--format %q: write text or json", *format))
	}
	if *weights != "" {
		w, err := report.ParseWeights(*weights)
		if err != nil {
			return usageErr("--weights: " + err.Error())
		}
		override = report.Weights{From: "--weights", Variants: w}
	}
	if isTerminal(s.Err) {
		last := time.Time{}
		opts.Progress = func(read, total uint64) {
			if read < total && time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			fmt.Fprintf(s.Err, "\rreading events: %d / %d", read, total)
			if read >= total {
				fmt.Fprint(s.Err, "\r\033[K")
			}
		}
	}
	col := report.NewCollector(positional[0])
	stream, err := events.ReadStream(ctx, *natsURL, opts, func(m events.Message) { col.Add(events.ReportEvent(*prefix, m)) })
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter experiments report: %v\n", err)
		return exitFail
	}
	r := col.Report(override)
	r.Stream = stream
	if *format == "json" {
		err = r.WriteJSON(s.Out)
	} else {
		err = r.WriteText(s.Out)
	}
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter experiments report: %v\n", err)
		return exitFail
	}
	return exitOK
}
