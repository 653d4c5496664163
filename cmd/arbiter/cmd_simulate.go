package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/arbiterhq/arbiter/simulate"
)

const simulateHelp = `Usage: arbiter simulate --rules DIR --truth FILE.yaml [--traffic FILE.yaml] [--profiles FILE.jsonl]
                         [--decisions N] [--customers N] [--seed S] [--json]

Runs the whole learning loop in this process, with no Redis, NATS or
network, for three strategies on the same customers, requests and times:

  static    the rules with propensity at the prior mean
  learning  the rules as written, learning from their own outcomes
  oracle    every offer scored by its true expected value, p_true x value
            (offers whose expected value is not positive are left out)

The truth file holds what the rules do not know: each offer's true reward
probability per segment (the first segment written that matches, else
default), the value of one success (an expression in the rule language),
and how many decisions later an outcome arrives:

  offers:
    stay_with_us: {default: 0.04, at_risk: 0.12}
  value: cart.total * 0.35 - discount
  delay: 200

Without --traffic and --profiles, the customers, carts and times are the
example shop's: its profile generator, carts in USD of its categories at
checkout, cart and product, from 2026-11-18T15:00:00Z. Another shop gives
its own:

  --traffic FILE.yaml   its carts: their currency (default: the rules'),
                        the placements that ask with their shares
                        (default: those the offers name, alike), the
                        categories with their prices, and the start:

      currency: EUR
      start: 2026-03-02T09:00:00Z
      placements: {basket: 0.8, product: 0.2}
      categories:
        skincare: {price: [14, 60], skus: [serum-30, cream-50]}
        makeup:   {price: [8, 35]}

  --profiles FILE.jsonl its customers, one JSON object a line with "id"
                        and the fields of the rules' profile schema (the
                        file arbiter profiles import and serve --profiles
                        read), instead of --customers generated ones

Name the traffic file *_traffic.yaml to keep it beside the rules (files
so named are not rules, as *_truth.yaml files are not). Offers of the
truth file that no strategy granted are named in a note, with the traffic
simulated and why they may not have been (a currency the rules have no
rate for).

It prints, per strategy, decisions, successes, value, value per decision
and regret against the oracle (expected values, not noise), for the whole
run and its last 20%. The same seed gives the same output. docs/learning.md
explains the figures.

Exit status: 0 on a report, 1 on an error (rules, truth, traffic or
profiles file), 2 on a usage error.

Flags:
`

// cmdSimulate runs `arbiter simulate`.
func cmdSimulate(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter simulate", simulateHelp, s)
	fs := c.fs
	rulesDir := fs.String("rules", "", "the rules directory (required)")
	truthFile := fs.String("truth", "", "the truth file, YAML (required)")
	decisions := fs.Int("decisions", simulate.DefaultDecisions, "how many decisions")
	trafficFile := fs.String("traffic", "", "the shop's traffic: currency, placements, categories and prices, YAML (default: the example shop's)")
	profilesFile := fs.String("profiles", "", "the customers, one JSON object a line (default: --customers generated ones)")
	customers := fs.Int("customers", simulate.DefaultCustomers, "how many generated customers they are drawn from (not with --profiles)")
	seed := fs.String("seed", strconv.Itoa(simulate.DefaultSeed), "the seed of the customers, the requests and the outcomes (1 or more)")
	asJSON := fs.Bool("json", false, `print one JSON object {"strategies": {...}}`)
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	sd, seedErr := strconv.ParseUint(*seed, 10, 64)
	var err error
	switch {
	case len(pos) > 0:
		err = fmt.Errorf("unexpected argument %q (the rules directory goes in --rules)", pos[0])
	case *rulesDir == "":
		err = errors.New("--rules DIR is required")
	case *truthFile == "":
		err = errors.New("--truth FILE.yaml is required")
	case *decisions < 1 || *decisions > 10_000_000:
		err = fmt.Errorf("--decisions %d: write a number from 1 to 10000000", *decisions)
	case *profilesFile != "" && given(fs, "customers"):
		err = errors.New("--customers counts generated customers; with --profiles the customers are the file's: leave --customers out")
	case *customers < 1 || *customers > 1_000_000:
		err = fmt.Errorf("--customers %d: write a number from 1 to 1000000", *customers)
	case seedErr != nil || sd == 0:
		err = fmt.Errorf("--seed %q: write a whole number of 1 or more", *seed)
	}
	if err != nil {
		return c.usageErr(err.Error())
	}
	rs, ok := loadRulesForCLI(s, "arbiter simulate", *rulesDir)
	if !ok {
		return exitFail
	}
	data, err := os.ReadFile(*truthFile)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter simulate: --truth: %v\n", err)
		return exitFail
	}
	truth, err := simulate.ParseTruth(rs, *truthFile, data)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter simulate: the truth file does not load:\n%v\n", err)
		return exitFail
	}
	opts := simulate.Options{Decisions: *decisions, Customers: *customers, Seed: sd}
	if *trafficFile != "" {
		data, err := os.ReadFile(*trafficFile)
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter simulate: --traffic: %v\n", err)
			return exitFail
		}
		if opts.Traffic, err = simulate.ParseTraffic(rs, *trafficFile, data); err != nil {
			fmt.Fprintf(s.Err, "arbiter simulate: the traffic file does not load:\n%v\n", err)
			return exitFail
		}
	}
	if *profilesFile != "" {
		f, err := os.Open(*profilesFile)
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter simulate: --profiles: %v\n", err)
			return exitFail
		}
		opts.Profiles, err = simulate.LoadProfiles(rs, *profilesFile, f)
		f.Close()
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter simulate: the profiles file does not load:\n%v\n", err)
			return exitFail
		}
	}
	rep, err := simulate.Run(ctx, rs, truth, opts)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter simulate: %v\n", err)
		return exitFail
	}
	if *asJSON {
		err = rep.WriteJSON(s.Out)
		for _, n := range rep.Notes {
			fmt.Fprintf(s.Err, "arbiter simulate: note: %s\n", n)
		}
	} else {
		err = rep.WriteText(s.Out)
	}
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter simulate: %v\n", err)
		return exitFail
	}
	return exitOK
}
