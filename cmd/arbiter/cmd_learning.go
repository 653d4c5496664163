package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/adapters/ledger"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/learning"
)

const learningResetHelp = `Usage: arbiter learning reset --redis URL [--prefix P] [--rules DIR] [OFFER ...]

Deletes the learning statistics (trials and successes, every cell and day)
of the named offers, or of every offer when none is named: after an offer
changes its meaning (a new discount, a new audience), so that what was
learnt about the old one does not decide for the new one. Replicas read the
reset at their next refresh (arbitration.learning.refresh) and decide from
the prior until new outcomes come in.

  --redis URL   Redis URL (default $ARBITER_REDIS_URL)
  --prefix P    key prefix (default "arbiter:"), as the server's --key-prefix
  --rules DIR   check the offer ids against these rules first
  --timeout D   Redis time limit (default 5s)

Exit status: 0 when reset, 1 on an error, 2 on a usage error.
`

// cmdLearningReset runs `arbiter learning reset`: the wiring only; the
// deletion is the ledger's (learning.Resetter).
func cmdLearningReset(ctx context.Context, args []string, s stdio) int {
	const name = "arbiter learning reset"
	c := newSubcommand(name, "", s)
	c.help = func(w io.Writer) { fmt.Fprint(w, learningResetHelp) }
	redisURL := c.fs.String("redis", os.Getenv("ARBITER_REDIS_URL"), "Redis URL")
	prefix := c.fs.String("prefix", "arbiter:", "key prefix")
	rulesDir := c.fs.String("rules", "", "rules directory")
	timeout := c.fs.Duration("timeout", 5*time.Second, "Redis time limit")
	offers, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if *redisURL == "" {
		return c.usageErr("--redis URL is required (or set ARBITER_REDIS_URL)")
	}
	for _, o := range offers {
		if o == "" || strings.ContainsAny(o, "{} \t") {
			return c.usageErr(fmt.Sprintf("%q is not an offer id", o))
		}
	}
	if *rulesDir != "" {
		rs, err := rulefiles.Load(*rulesDir)
		if err != nil {
			fmt.Fprintf(s.Err, "%s: rules %s:\n%v\n", name, *rulesDir, err)
			return exitFail
		}
		ids := make([]string, len(rs.Offers))
		for i, o := range rs.Offers {
			ids[i] = o.ID
		}
		for _, o := range offers {
			if _, known := rs.Offer(o); !known {
				hint := exprenv.DidYouMean(o, ids, "")
				if hint != "" {
					hint = " (" + hint + ")"
				}
				fmt.Fprintf(s.Err, "%s: %s is not an offer of the rules in %s%s\n", name, o, *rulesDir, hint)
				return exitFail
			}
		}
	}
	client, err := redisconn.OpenWith(*redisURL, redisconn.Options{Timeout: *timeout, Retries: 3})
	if err != nil {
		fmt.Fprintf(s.Err, "%s: %v\n", name, err)
		return exitFail
	}
	defer client.Close()
	var resetter learning.Resetter = ledger.New(client, *prefix)
	var which []string
	if len(offers) > 0 {
		which = offers
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := resetter.ResetLearning(rctx, which); err != nil {
		fmt.Fprintf(s.Err, "%s: %v\n", name, err)
		return exitFail
	}
	if len(offers) == 0 {
		fmt.Fprintln(s.Out, "reset the learning statistics of every offer")
	} else {
		fmt.Fprintf(s.Out, "reset the learning statistics of %s\n", strings.Join(offers, ", "))
	}
	return exitOK
}
