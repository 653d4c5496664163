package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/report"
	"github.com/arbiterhq/arbiter/wire"
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
	sequential := fs.Bool("sequential", false, "show always-valid (peeking-safe) intervals and p-values instead of fixed-sample ones")
	horizon := fs.Int("horizon", report.DefaultHorizon, "with --sequential: customers per variant at which the interval is narrowest")
	covariate := fs.String("covariate", "", "adjust revenue per customer with a pre-period profile field (CUPED), e.g. profile.ltv")
	window := longDuration(report.DefaultWindow)
	fs.Var(&window, "window", "the attribution window (serve's --attribution-window): outcomes that occurred longer than `DURATION` after their decision are not counted: 7d, 36h")
	c.help = func(w io.Writer) {
		fmt.Fprintln(w, "Usage: arbiter experiments report --nats URL EXPERIMENT_ID|holdout [--since DURATION] [--format text|json]")
		fmt.Fprintln(w, "         [--weights V=W,...] [--sequential [--horizon N]] [--covariate profile.FIELD] [--window DURATION]")
		fmt.Fprintln(w, "\nReads the JetStream event stream up to its end and prints, per variant: the customers the decisions")
		fmt.Fprintln(w, "enrolled, exposures, outcomes, conversion rate, revenue per customer, the uplift against the first")
		fmt.Fprintln(w, "variant with a 95% interval and p-value, and a sample-ratio-mismatch check. `holdout` reports the")
		fmt.Fprintln(w, "holdout: held-out against served customers (docs/experiments.md).")
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
	case *horizon <= 0:
		return usageErr("--horizon must be a positive number of customers, e.g. --horizon 10000")
	}
	field := ""
	if *covariate != "" {
		f, ok := strings.CutPrefix(*covariate, "profile.")
		if !ok || f == "" || strings.ContainsAny(f, ". ") {
			return usageErr(fmt.Sprintf("--covariate %q: write profile.FIELD, a number (or bool) field of the profile schema, e.g. profile.ltv", *covariate))
		}
		field = f
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
	col.Covariate = field
	col.Window = time.Duration(window)
	if *since > 0 {
		// The ruleset in force when the window begins was loaded before it:
		// its weights, control and layer come from its rules_reloaded event.
		now := time.Now()
		opts.Now = func() time.Time { return now }
		prior, err := priorRuleset(ctx, *natsURL, *prefix, now.Add(-*since))
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter experiments report: %v\n", err)
			return exitFail
		}
		col.Prior(prior)
	}
	stream, err := events.ReadStream(ctx, *natsURL, opts, func(m events.Message) { col.Add(events.ReportEvent(*prefix, m)) })
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter experiments report: %v\n", err)
		return exitFail
	}
	if !col.Exists() {
		fmt.Fprintf(s.Err, "arbiter experiments report: no experiment %q in the events read (stream %s); the experiments are: %s\n",
			positional[0], stream, strings.Join(col.Known(), ", "))
		return exitFail
	}
	r := col.ReportWith(override, report.Options{Sequential: *sequential, Horizon: *horizon})
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

// priorRuleset returns the ruleset of the latest successful rules_reloaded
// event stored at or before start (nil when there is none), read from the
// stream's rules_reloaded events only.
func priorRuleset(ctx context.Context, natsURL, prefix string, start time.Time) (*report.Ruleset, error) {
	var last *wire.RulesReloaded
	opts := events.ReadOptions{Prefix: prefix, Subject: prefix + ".rules.reloaded", Until: start, Name: "arbiter experiments report"}
	_, err := events.ReadStream(ctx, natsURL, opts, func(m events.Message) {
		if m.Stored.After(start) {
			return
		}
		if rr, err := wire.ParseRulesReloaded(m.Data); err == nil && rr.Version != "" {
			last = rr
		}
	})
	if err != nil || last == nil {
		return nil, err
	}
	return events.ReportRuleset(last), nil
}

// cmdExperimentsList prints the experiments and layers of a ruleset: the
// one of --rules, else the one of the latest successful rules_reloaded
// event on the stream.
func cmdExperimentsList(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter experiments list", "", s)
	fs := c.fs
	rulesDir := fs.String("rules", "", "a rules directory to list (default: the ruleset in force, from the stream)")
	natsURL := fs.String("nats", os.Getenv("ARBITER_NATS_URL"), "NATS server URL, with JetStream (default $ARBITER_NATS_URL)")
	prefix := fs.String("prefix", events.DefaultPrefix, "prefix of Arbiter's subjects")
	c.help = func(w io.Writer) {
		fmt.Fprintln(w, "Usage: arbiter experiments list (--rules DIR | --nats URL)")
		fmt.Fprintln(w, "\nLists the experiments (layer, range of layer buckets, traffic, status, variants, who is eligible),")
		fmt.Fprintln(w, "the layers and the holdout: of the rules directory given, else of the latest rules_reloaded event.")
		fmt.Fprintln(w, "\nFlags:")
		c.printDefaults(w)
	}
	positional, code, ok := c.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(positional) != 0:
		return c.usageErr("experiments list takes no arguments")
	case *rulesDir == "" && *natsURL == "":
		return c.usageErr("give --rules DIR or --nats URL (or ARBITER_NATS_URL)")
	}
	if *rulesDir != "" {
		rs, ok := loadRulesForCLI(s, "arbiter experiments list", *rulesDir)
		if !ok {
			return exitFail
		}
		rr := wire.NewRulesReloaded("", time.Now(), rs, "", nil)
		if err := report.WriteList(s.Out, events.ReportRuleset(rr), *rulesDir); err != nil {
			return exitFail
		}
		return exitOK
	}
	if *prefix == "" {
		*prefix = events.DefaultPrefix
	}
	var last *wire.RulesReloaded
	opts := events.ReadOptions{Prefix: *prefix, Subject: *prefix + ".rules.reloaded", Name: "arbiter experiments list"}
	stream, err := events.ReadStream(ctx, *natsURL, opts, func(m events.Message) {
		if rr, err := wire.ParseRulesReloaded(m.Data); err == nil && rr.Version != "" {
			last = rr
		}
	})
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter experiments list: %v\n", err)
		return exitFail
	}
	if last == nil {
		fmt.Fprintf(s.Err, "arbiter experiments list: no rules_reloaded event on stream %s: give --rules DIR\n", stream)
		return exitFail
	}
	if err := report.WriteList(s.Out, events.ReportRuleset(last), "rules_reloaded event of "+last.TS.Format(time.RFC3339)+", stream "+stream); err != nil {
		return exitFail
	}
	return exitOK
}
