package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/wire"
)

// ExportStats say what Export wrote.
type ExportStats struct {
	Stream string // the stream read
	// Events is the number of lines written.
	Events int64
	// Skipped counts the messages that are not events: not a JSON object,
	// or an outcome of another service that does not read as one (what the
	// feedback consumer rejects too).
	Skipped int64
}

// Export writes the events of the stream (ReadStream's: from its start,
// or from opts.Start or opts.Since ago, up to its last event when Export
// starts, or up to opts.Until) to w as JSON lines, one event per line, in
// stream order: the input of `arbiter replay --events`. Arbiter's own
// events are written as stored; an outcome another service published is
// written in Arbiter's form (wire.ParseOutcome: type, ts from the stream,
// exact value), so that every line reads as docs/events.md says. It
// streams: memory does not grow with the number of events, and a pull
// brings at most 8 MiB, or two of the largest messages the server takes
// (pullBytes), whatever their size.
func Export(ctx context.Context, url string, w io.Writer, opts ReadOptions) (ExportStats, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw := bufio.NewWriterSize(w, 256<<10)
	var st ExportStats
	var werr error
	var compact bytes.Buffer
	stream, err := ReadStream(ctx, url, opts, func(m Message) {
		if werr != nil {
			return
		}
		line := exportLine(m, &compact)
		if line == nil {
			st.Skipped++
			return
		}
		if _, werr = bw.Write(line); werr == nil {
			werr = bw.WriteByte('\n')
		}
		if werr != nil {
			cancel() // the writer failed (a closed pipe): stop reading
			return
		}
		st.Events++
	})
	st.Stream = stream
	if werr != nil {
		return st, werr
	}
	if err != nil {
		return st, err
	}
	return st, bw.Flush()
}

// ExportLine is m as Export writes it, one line of JSON, or nil when
// Export skips it (not an event: not a JSON object, or an outcome the
// feedback consumer rejects). The line may share memory with m.Data and
// buf. `arbiter replay --nats` reads the stream through it, so that it
// reads what replaying the export reads.
func ExportLine(m Message, buf *bytes.Buffer) []byte { return exportLine(m, buf) }

// exportLine is m as one line of JSON, or nil when it is not an event.
func exportLine(m Message, buf *bytes.Buffer) []byte {
	data := bytes.TrimSpace(m.Data)
	if len(data) == 0 || data[0] != '{' {
		return nil
	}
	if i := strings.Index(m.Subject, "."+wire.KindOutcome+"."); i >= 0 {
		b, err := OutcomeJSON(m.Subject[:i], m.Subject, data, m.Stored)
		if err != nil {
			return nil
		}
		return b
	}
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		buf.Reset()
		if json.Compact(buf, data) != nil {
			return nil
		}
		return buf.Bytes()
	}
	if !json.Valid(data) {
		return nil
	}
	return data
}

// OutcomeJSON is the outcome message data, published on subject (of the
// subject prefix prefix) and stored at stored, in Arbiter's form, as the
// feedback consumer reads it (wire.ParseOutcome), or the error it is
// rejected with. An event in Arbiter's form already (its own: one line
// with "type": "outcome", its ts and its outcome) is returned as it is;
// another service's is encoded anew, with its type from the subject, its
// ts (the time stored when it has none) and its value exact. A body that
// says "type": "outcome" is not Arbiter's for that alone: docs/events.md
// lets other services write it, and they used to be exported without
// their outcome type or ts, which replay read as no outcome.
func OutcomeJSON(prefix, subject string, data []byte, stored time.Time) ([]byte, error) {
	ev, err := wire.ParseOutcome(prefix, subject, data, stored)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte(`"type":"outcome"`)) && bytes.Contains(data, []byte(`"ts":"`)) &&
		bytes.Contains(data, []byte(`"outcome":"`)) && bytes.IndexByte(data, '\n') < 0 && bytes.IndexByte(data, '\r') < 0 {
		return data, nil
	}
	return json.Marshal(ev)
}
