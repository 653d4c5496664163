package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/adapters/ledger"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/learning"
	"github.com/arbiterhq/arbiter/redact"
)

const learningResetHelp = `Usage: arbiter learning reset --redis URL [--prefix P] [--rules DIR] [OFFER ...]

Deletes the learning statistics (trials and successes, every cell and day)
of the named offers, or of every offer when none is named: after an offer
changes its meaning (a new discount, a new audience), so that what was
learnt about the old one does not decide for the new one. Replicas read the
reset at their next refresh (arbitration.learning.refresh) and decide from
the prior until new outcomes come in; outcomes of decisions made before
the reset count no success. It prints what it deleted: per offer, the
trials and successes read just before the deletion.

It deletes nothing and fails when a named offer has no statistics (a
mistyped id: --rules checks ids against the rules) or none are stored
under the prefix (check --prefix against the server's --key-prefix). A
server started without --redis (the embedded Redis) counts its statistics
in its own process, where this command cannot reach them: it says so;
restart that server instead (it starts every count from zero).

  --redis URL   Redis URL (default $ARBITER_REDIS_URL)
  --prefix P    key prefix (default "arbiter:"), as the server's --key-prefix
  --rules DIR   check the offer ids against these rules first
  --timeout D   Redis time limit (default 5s)

Exit status: 0 when reset, 1 on an error (nothing to delete included), 2 on
a usage error.
`

// embeddedServerKey is the hash in which a server with the embedded Redis
// names itself (fields pid and addr, its API's address): it counts learning
// in its own process (memledger), where `arbiter learning reset` cannot
// reach, and the command says so instead of deleting nothing.
func embeddedServerKey(prefix string) string { return prefix + "embedded" }

// cmdLearningReset runs `arbiter learning reset`: the wiring only; what is
// read and deleted is learning.Reset's, through the Redis ledger.
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
		rs, ok := loadRulesForCLI(s, name, *rulesDir)
		if !ok {
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
	var which []string
	if len(offers) > 0 {
		which = offers
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	where := redact.URL(*redisURL)
	srv, err := client.HGetAll(rctx, embeddedServerKey(*prefix)).Result()
	if err != nil {
		fmt.Fprintf(s.Err, "%s: reading %s: %v\n", name, where, err)
		return exitFail
	}
	if len(srv) > 0 {
		fmt.Fprintf(s.Err, "%s: %s is the embedded Redis of the arbiter serve with pid %s (API on %s): that server counts "+
			"its learning statistics in its own process, where no command reaches them; nothing was deleted.\n"+
			"  To start its offers from the prior again, restart that server (an embedded server starts every count from zero, "+
			"its caps and holds too), or run it with --redis URL, where this command resets them.\n", name, where, srv["pid"], srv["addr"])
		return exitFail
	}
	cleared, err := learning.Reset(rctx, ledger.New(client, *prefix), which)
	var none *learning.NoStatisticsError
	switch {
	case errors.As(err, &none):
		check := "Check --prefix (the server's --key-prefix)"
		if len(none.Offers) > 0 {
			check += " and the offer ids (--rules DIR checks them against the rules)"
		}
		fmt.Fprintf(s.Err, "%s: %v.\n  Looked at %s under --prefix %q (keys %slearn:{OFFER}). %s. A server started without "+
			"--redis counts its statistics in its own process, where this command cannot reach them: restart it to start from "+
			"the prior.\n", name, err, where, *prefix, *prefix, check)
		return exitFail
	case err != nil:
		fmt.Fprintf(s.Err, "%s: %v\n", name, err)
		return exitFail
	}
	fmt.Fprintf(s.Out, "deleted the learning statistics of %s (every cell and day; replicas decide from the prior after their next refresh):\n",
		plural(int64(len(cleared)), "offer", "offers"))
	for _, c := range cleared {
		fmt.Fprintf(s.Out, "  %s: %s, %s\n", c.Offer, plural(c.Trials, "trial", "trials"), plural(c.Successes, "success", "successes"))
	}
	return exitOK
}

// plural is n with the noun's singular or plural form.
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
