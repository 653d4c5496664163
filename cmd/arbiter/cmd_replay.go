package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

const replayHelp = `Usage: arbiter replay --rules DIR (--nats URL [--since DURATION|RFC3339] [--until RFC3339]
                      [--prefix PREFIX | --stream NAME] | --events FILE.jsonl)
                      [--baseline DIR] [--json] [--fail-if EXPR]...

Decides every recorded decision again with the candidate rules in DIR, at
its recorded time, with its recorded profile, request and learning
posteriors, with caps, budgets and holds counted in memory from zero in
recorded order; the recorded outcomes drive the holds. It publishes
nothing and writes nothing to Redis. It prints how many decisions change,
grants per offer, discount spend per currency, customers per segment, and
the off-policy estimate of the candidate's reward rate and value per
decision beside the recorded policy's (docs/replay.md).

--events reads JSON lines as 'arbiter events export' writes them ("-": the
standard input); --nats reads the stream as export does (a server run with
--subject-prefix: give it as --prefix, or name the stream with --stream).
--baseline names the rules that made the recorded
decisions (e.g. main's): the recorded policy's probabilities under
Thompson sampling and experiments come from them; without it, from the
candidate.

--fail-if makes replay a gate in CI: the condition, over the metrics that
docs/replay.md lists (spend_increase_pct, changed_pct,
reward_rate_candidate_hi, ...), is checked after the report; when one
holds, replay prints it and exits 1. It may be repeated.

Exit status: 0 on a report, 1 on an error or a --fail-if condition that
holds, 2 on a usage error.

Flags:
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cmdReplay runs `arbiter replay`.
func cmdReplay(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter replay", replayHelp, s)
	fs := c.fs
	rulesDir := fs.String("rules", "", "the candidate rules directory (required)")
	baseDir := fs.String("baseline", "", "the rules that made the recorded decisions (default: the candidate)")
	natsURL := fs.String("nats", "", "read the events from the NATS JetStream stream at URL")
	prefix := fs.String("prefix", events.DefaultPrefix, "with --nats: prefix of Arbiter's subjects (the server's --subject-prefix; finds the stream when --stream is not given)")
	stream := fs.String("stream", "", "with --nats: the JetStream stream to read (default: the one holding PREFIX.>, ARBITER)")
	since := fs.String("since", "", "with --nats: only events of the last DURATION (e.g. 168h) or since an RFC 3339 time")
	until := fs.String("until", "", "with --nats: only decisions up to this RFC 3339 time (their outcomes up to the window after it)")
	file := fs.String("events", "", "read the events from FILE.jsonl ('-': standard input)")
	window := fs.Duration("window", replay.DefaultWindow, "the attribution window: outcomes count up to this long after their decision")
	asJSON := fs.Bool("json", false, "print one JSON object: decisions, changed, offers, spend, segments, estimate")
	seed := fs.Uint64("seed", 1, "the seed of the bootstrap intervals")
	var failIf multiFlag
	fs.Var(&failIf, "fail-if", "exit 1 when this condition over the metrics holds, e.g. 'spend_increase_pct > 10' (repeatable)")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	var err error
	var sinceDur time.Duration
	var sinceT, untilT time.Time
	switch {
	case len(pos) > 0:
		err = fmt.Errorf("unexpected argument %q (the rules directory goes in --rules)", pos[0])
	case *rulesDir == "":
		err = errors.New("--rules DIR is required")
	case (*natsURL == "") == (*file == ""):
		err = errors.New("give one source of events: --nats URL or --events FILE.jsonl")
	case *file != "" && (*since != "" || *until != ""):
		err = errors.New("--since and --until go with --nats; an --events file is replayed whole")
	case *file != "" && (*stream != "" || *prefix != events.DefaultPrefix):
		err = errors.New("--prefix and --stream go with --nats; an --events file holds the events already")
	case *window <= 0:
		err = fmt.Errorf("--window %s: write a positive duration, e.g. 168h", *window)
	}
	if err == nil && *since != "" {
		if d, derr := time.ParseDuration(*since); derr == nil && d > 0 {
			sinceDur = d
		} else if t, terr := time.Parse(time.RFC3339Nano, *since); terr == nil {
			sinceT = t
		} else {
			err = fmt.Errorf("--since %q: write a duration (168h) or an RFC 3339 time (2026-11-22T00:00:00Z)", *since)
		}
	}
	if err == nil && *until != "" {
		if untilT, err = time.Parse(time.RFC3339Nano, *until); err != nil {
			err = fmt.Errorf("--until %q: write an RFC 3339 time (2026-11-29T00:00:00Z)", *until)
		}
	}
	if err == nil && !untilT.IsZero() && (!sinceT.IsZero() || sinceDur > 0) {
		start := sinceT
		if start.IsZero() {
			start = time.Now().Add(-sinceDur)
		}
		if untilT.Before(start) {
			err = fmt.Errorf("--until %s is before --since %s: nothing would be replayed", untilT.Format(time.RFC3339), start.Format(time.RFC3339))
		}
	}
	var conds []*replay.Condition
	for _, f := range failIf {
		cond, cerr := replay.CompileCondition(f)
		if cerr != nil && err == nil {
			err = cerr
		}
		conds = append(conds, cond)
	}
	if err != nil {
		return c.usageErr(err.Error())
	}
	rs, ok := loadRulesForCLI(s, "arbiter replay", *rulesDir)
	if !ok {
		return exitFail
	}
	var base *rules.Ruleset
	if *baseDir != "" {
		if base, ok = loadRulesForCLI(s, "arbiter replay", *baseDir); !ok {
			return exitFail
		}
	}
	// Replay allocates short-lived events at a high rate and keeps little:
	// a heap goal of twice the live heap trades some memory for less CPU in GC.
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	progress := progressLine(s)
	opts := replay.Options{Baseline: base, Window: *window, Seed: *seed}
	if progress != nil {
		opts.Progress = func(n int64) { progress(fmt.Sprintf("arbiter replay: %d events read", n)) }
	}
	var next func() ([]byte, error)
	var closeSrc func() error
	var skipped atomic.Int64 // messages of the stream that are not events
	if *file != "" {
		next, closeSrc, err = fileLines(*file, s.In)
	} else {
		next, closeSrc = natsLines(ctx, *natsURL, events.ReadOptions{Prefix: *prefix, Stream: *stream, Since: sinceDur, Start: sinceT, Name: "arbiter replay"}, untilT, *window, &skipped)
	}
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter replay: %v\n", err)
		return exitFail
	}
	rep, err := replay.Run(ctx, rs, replay.Pipeline(ctx, next, rs, base), opts)
	cerr := closeSrc()
	if progress != nil {
		progress("")
	}
	if err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter replay: %v\n", err)
		return exitFail
	}
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(s.Err, "arbiter replay: %d messages of the stream that are not events skipped (as events export skips them)\n", n)
	}
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(s.Err, "arbiter replay: %v\n", err)
			return exitFail
		}
	} else {
		rep.WriteText(s.Out)
	}
	m := rep.Metrics()
	failed := false
	for _, cond := range conds {
		hit, err := cond.Eval(m)
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter replay: %v\n", err)
			return exitFail
		}
		if hit {
			failed = true
			fmt.Fprintf(s.Err, "arbiter replay: --fail-if %q holds (%s)\n", cond.Source, metricsOf(cond.Source, m))
		}
	}
	if failed {
		return exitFail
	}
	return exitOK
}

// metricsOf lists the metrics a condition names with their values.
func metricsOf(src string, m map[string]float64) string {
	var parts []string
	for name := range replay.MetricNames {
		if containsWord(src, name) {
			parts = append(parts, fmt.Sprintf("%s = %.4g", name, m[name]))
		}
	}
	if len(parts) == 0 {
		return "no metric named"
	}
	sortStrings(parts)
	return strings.Join(parts, ", ")
}

func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		before := j == 0 || !isIdent(s[j-1])
		after := end == len(s) || !isIdent(s[end])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func sortStrings(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// progressLine returns a function that rewrites one line on stderr when it
// is a terminal, nil otherwise ("" clears it).
func progressLine(s stdio) func(string) {
	f, ok := s.Err.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(msg string) { fmt.Fprintf(f, "\r\033[K%s", msg) }
}

// fileLines reads JSON lines from path ("-": in).
func fileLines(path string, in io.Reader) (func() ([]byte, error), func() error, error) {
	r := in
	closer := func() error { return nil }
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--events: %w", err)
		}
		r, closer = f, f.Close
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	next := func() ([]byte, error) {
		if sc.Scan() {
			return sc.Bytes(), nil
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--events %s: %w", path, err)
		}
		return nil, io.EOF
	}
	return next, closer, nil
}

// natsLines reads the stream in a goroutine: decisions stored up to until
// (zero: all), outcomes up to until + window. It counts in skipped the
// messages that events export skips.
func natsLines(ctx context.Context, url string, opts events.ReadOptions, until time.Time, window time.Duration, skipped *atomic.Int64) (func() ([]byte, error), func() error) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan []byte, 1024)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		var buf bytes.Buffer
		if !until.IsZero() {
			opts.Until = until.Add(window) // the outcomes of the last decisions
		}
		_, err := events.ReadStream(ctx, url, opts, func(m events.Message) {
			if !until.IsZero() {
				limit := until
				if strings.Contains(m.Subject, "."+wire.KindOutcome+".") {
					limit = until.Add(window)
				}
				if m.Stored.After(limit) {
					return
				}
			}
			// as events export writes it: another service's outcome in
			// Arbiter's form, as the feedback consumer reads it; what
			// export skips (not an event, an outcome the consumer
			// rejects) is skipped and counted
			data := events.ExportLine(m, &buf)
			if data == nil {
				skipped.Add(1)
				return
			}
			data = append([]byte(nil), data...)
			select {
			case ch <- data:
			case <-ctx.Done():
			}
		})
		errc <- err
	}()
	next := func() ([]byte, error) {
		if b, ok := <-ch; ok {
			return b, nil
		}
		if err := <-errc; err != nil {
			errc <- err
			return nil, err
		}
		errc <- nil
		return nil, io.EOF
	}
	return next, func() error { cancel(); return nil }
}
