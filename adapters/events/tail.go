package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/arbiterhq/arbiter/redact"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TailOptions configure Tail.
type TailOptions struct {
	// Subject to follow, wildcards allowed (default "<prefix>.>").
	Subject string
	// Prefix of Arbiter's subjects (default "arbiter").
	Prefix string
	// Since, with JetStream, starts with the events stored in the last
	// Since; 0 starts with the next event.
	Since time.Duration
	// Now is the current time (for Since); nil: time.Now.
	Now func() time.Time
	// Notice receives remarks for the person at the terminal (which stream
	// is followed, no JetStream); nil: none.
	Notice func(string)
}

// Tail writes the events published on opts.Subject to w, one JSON object
// per line, until ctx is done (then it returns nil). With JetStream it
// follows the stream holding the subject with an ordered consumer (so
// --since can replay); without, or when no stream holds the subject, it
// subscribes with core NATS. A message that is not JSON is written as
// {"subject": ..., "data": "<the payload as a string>"}.
func Tail(ctx context.Context, url string, w io.Writer, opts TailOptions) error {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Subject == "" {
		opts.Subject = opts.Prefix + ".>"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	notice := opts.Notice
	if notice == nil {
		notice = func(string) {}
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.MaxReconnects(-1), nats.Name("arbiter events tail"))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", redact.URL(url), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	lookup, cancel := context.WithTimeout(ctx, 5*time.Second)
	name, err := js.StreamNameBySubject(lookup, opts.Subject)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if opts.Since > 0 {
			notice(fmt.Sprintf("no JetStream stream holds %s (%v): following live events only, --since ignored", opts.Subject, err))
		} else {
			notice(fmt.Sprintf("no JetStream stream holds %s (%v): following live events only (with core NATS), none recorded before; is --prefix the server's?", opts.Subject, err))
		}
		return tailCore(ctx, nc, w, opts.Subject)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{opts.Subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if opts.Since > 0 {
		t := opts.Now().Add(-opts.Since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.OrderedConsumer(ctx, name, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("stream %s: %w", name, err)
	}
	notice(fmt.Sprintf("following %s on stream %s", opts.Subject, name))
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		it.Stop()
	}()
	var line []byte
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("stream %s: %w", name, err)
		}
		line = appendLine(line[:0], m.Subject(), m.Data())
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
}

func tailCore(ctx context.Context, nc *nats.Conn, w io.Writer, subject string) error {
	ch := make(chan *nats.Msg, 4096)
	sub, err := nc.ChanSubscribe(subject, ch)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	defer sub.Unsubscribe()
	var line []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			line = appendLine(line[:0], m.Subject, m.Data)
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
}

// appendLine appends the message as one JSON line.
func appendLine(b []byte, subject string, data []byte) []byte {
	if json.Valid(data) && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		var buf bytes.Buffer
		if json.Compact(&buf, data) == nil {
			return append(append(b, buf.Bytes()...), '\n')
		}
	}
	raw, _ := json.Marshal(struct {
		Subject string `json:"subject"`
		Data    string `json:"data"`
	}{subject, string(data)})
	return append(append(b, raw...), '\n')
}
