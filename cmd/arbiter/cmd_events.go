package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
)

// cmdEventsTail follows the events on NATS and prints them as JSON lines
// until interrupted.
func cmdEventsTail(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter events tail", "", s)
	fs := c.fs
	natsURL := fs.String("nats", os.Getenv("ARBITER_NATS_URL"), "NATS server URL (default $ARBITER_NATS_URL)")
	prefix := fs.String("prefix", events.DefaultPrefix, "prefix of Arbiter's subjects")
	subject := fs.String("subject", "", "subject to follow, wildcards allowed, e.g. arbiter.outcome.> (default PREFIX.>)")
	since := fs.Duration("since", 0, "with JetStream, start with the events of the last DURATION (e.g. 15m, 24h); default: only new events")
	c.help = func(w io.Writer) {
		fmt.Fprintln(w, "Usage: arbiter events tail --nats URL [--subject SUBJECT] [--since DURATION]")
		fmt.Fprintln(w, "\nFollows Arbiter's decision, outcome and reload events on NATS and prints them, one JSON")
		fmt.Fprintln(w, "object per line, until interrupted (docs/events.md).")
		fmt.Fprintln(w, "\nFlags:")
		c.printDefaults(w)
	}
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	usageErr := c.usageErr
	switch {
	case len(pos) > 0:
		return usageErr(fmt.Sprintf("unexpected argument %q", pos[0]))
	case *natsURL == "":
		return usageErr("--nats URL is required (or ARBITER_NATS_URL), e.g. --nats nats://127.0.0.1:4222")
	case *since < 0:
		return usageErr("--since must be positive, e.g. --since 1h")
	}
	err := events.Tail(ctx, *natsURL, s.Out, events.TailOptions{
		Subject: *subject, Prefix: *prefix, Since: *since, Now: time.Now,
		Notice: func(msg string) { fmt.Fprintf(s.Err, "arbiter events tail: %s\n", msg) },
	})
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter events tail: %v\n", err)
		return exitFail
	}
	return exitOK
}
