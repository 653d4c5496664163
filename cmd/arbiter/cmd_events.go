package main

import (
	"context"
	"errors"
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

const eventsExportHelp = `Usage: arbiter events export --nats URL [--stream NAME] [--since DURATION|RFC3339] [--until RFC3339] > FILE.jsonl

Writes the events recorded in the JetStream stream (decisions, outcomes and
reloads), one JSON object per line in the order stored, from the stream's
first event (or --since) up to its last event when the export starts (or
--until), then exits. The lines are the input of 'arbiter replay --events
FILE.jsonl'. An outcome another service published is written in Arbiter's
form; a message that is not an event is skipped and counted on stderr
(docs/events.md).

Exit status: 0 when written, 1 on an error, 2 on a usage error.

Flags:
`

// cmdEventsExport writes the stream's events as JSON lines.
func cmdEventsExport(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter events export", eventsExportHelp, s)
	fs := c.fs
	natsURL := fs.String("nats", os.Getenv("ARBITER_NATS_URL"), "NATS server URL (default $ARBITER_NATS_URL)")
	prefix := fs.String("prefix", events.DefaultPrefix, "prefix of Arbiter's subjects (finds the stream when --stream is not given)")
	stream := fs.String("stream", "", "the JetStream stream to read (default: the one holding PREFIX.>, ARBITER)")
	since := fs.String("since", "", "only events stored in the last DURATION (e.g. 168h) or since an RFC 3339 time")
	until := fs.String("until", "", "only events stored up to this RFC 3339 time")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	opts := events.ReadOptions{Prefix: *prefix, Stream: *stream, Name: "arbiter events export"}
	var err error
	switch {
	case len(pos) > 0:
		err = fmt.Errorf("unexpected argument %q (the events go to the standard output: > FILE.jsonl)", pos[0])
	case *natsURL == "":
		err = errors.New("--nats URL is required (or ARBITER_NATS_URL), e.g. --nats nats://127.0.0.1:4222")
	}
	if err == nil && *since != "" {
		opts.Start, err = sinceTime(*since, time.Now())
	}
	if err == nil && *until != "" {
		if opts.Until, err = time.Parse(time.RFC3339Nano, *until); err != nil {
			err = fmt.Errorf("--until %q: write an RFC 3339 time, e.g. 2026-11-29T00:00:00Z", *until)
		}
	}
	if err == nil && !opts.Start.IsZero() && !opts.Until.IsZero() && opts.Until.Before(opts.Start) {
		err = fmt.Errorf("--until %s is before --since %s: nothing would be exported", opts.Until.Format(time.RFC3339), opts.Start.Format(time.RFC3339))
	}
	if err != nil {
		return c.usageErr(err.Error())
	}
	if progress := progressLine(s); progress != nil {
		opts.Progress = func(read, total uint64) {
			progress(fmt.Sprintf("arbiter events export: sequence %d of %d", read, total))
		}
		defer progress("")
	}
	st, err := events.Export(ctx, *natsURL, s.Out, opts)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter events export: %v\n", err)
		return exitFail
	}
	if st.Skipped > 0 {
		fmt.Fprintf(s.Err, "arbiter events export: %d events of stream %s written; %d messages that are not events skipped\n", st.Events, st.Stream, st.Skipped)
	}
	return exitOK
}

// sinceTime reads --since: a positive duration before now, or an RFC 3339
// time.
func sinceTime(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since %q: write a positive duration, e.g. 168h", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: write a duration (168h) or an RFC 3339 time (2026-11-22T00:00:00Z)", v)
	}
	return t, nil
}
