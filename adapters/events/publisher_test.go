package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/wire"
)

// ids returns the event ids of msgs, checking that each carries its id as
// Nats-Msg-Id.
func ids(t *testing.T, msgs []jetstream.Msg) []string {
	t.Helper()
	out := make([]string, len(msgs))
	for i, m := range msgs {
		var e struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if h := m.Headers().Get(jetstream.MsgIDHeader); h != e.ID {
			t.Fatalf("message %d: Nats-Msg-Id %q, id %q", i, h, e.ID)
		}
		if h, want := m.Headers().Get(wire.ExposureHeader), exposureOf(m.Data()); h != want {
			t.Fatalf("message %d: %s %q, want %q", i, wire.ExposureHeader, h, want)
		}
		out[i] = e.ID
	}
	return out
}

// checkSequence checks that got is exactly dcs_100000+from .. +to-1, in order.
func checkSequence(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("stream holds %d events, want %d", len(got), n)
	}
	for i := 0; i < len(got) && i < n; i++ {
		if want := "dcs_" + strconv.Itoa(100000+i); got[i] != want {
			t.Fatalf("event %d is %s, want %s (order lost or duplicate)", i, got[i], want)
		}
	}
}

func TestPublisherJetStreamInOrderWithMsgID(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 0; i < n; i++ {
		p.Publish(decisionEvent(i))
	}
	p.Publish(decisionEvent(0)) // a retry of the same event: deduplicated by Nats-Msg-Id
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Published != n+1 || st.Buffered != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v, want %d published, none buffered or dropped", st, n+1)
	}
	msgs := readStream(t, url, prefix, prefix+".decision.>")
	checkSequence(t, ids(t, msgs), n)
	if s := msgs[0].Subject(); s != prefix+".decision.checkout" {
		t.Errorf("subject %q", s)
	}
}

// TestPublisherInProcess: with Options.InProcess the events reach an
// embedded server without a socket. The URL given names a port where
// nothing listens, so a publisher that dialled it would deliver nothing.
func TestPublisherInProcess(t *testing.T) {
	emb, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop)
	ctx := context.Background()
	p, err := NewPublisher(ctx, "nats://127.0.0.1:1", Options{Prefix: "inproc", Logger: quietLogger(), InProcess: emb})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := 0; i < n; i++ {
		p.Publish(decisionEvent(i))
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != n || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	checkSequence(t, ids(t, readStream(t, emb.URL, "inproc", "inproc.decision.>")), n)
}

func TestPublisherCreatesStreamWithOptions(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	p, err := NewPublisher(context.Background(), url, Options{Prefix: prefix, MaxAge: time.Hour, MaxBytes: 1 << 20, Duplicates: time.Minute, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	c := waitStream(t, url, StreamName(prefix)).Config
	if c.MaxAge != time.Hour || c.MaxBytes != 1<<20 || c.Duplicates != time.Minute || c.Storage != jetstream.FileStorage ||
		len(c.Subjects) != 1 || c.Subjects[0] != prefix+".>" {
		t.Fatalf("stream config %+v", c)
	}
}

// TestPublisherSurvivesServerRestart stops and restarts a nats-server
// mid-stream, with events in flight and events published while it is down:
// none is lost, none is duplicated, the order is kept.
func TestPublisherSurvivesServerRestart(t *testing.T) {
	srv := newNATSProc(t, true)
	// NATS is down when the publisher starts: NewPublisher must not wait.
	start := time.Now()
	p, err := NewPublisher(context.Background(), srv.url(), Options{Prefix: "arbtest", ReconnectWait: 50 * time.Millisecond, AckTimeout: 2 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("NewPublisher took %v with NATS down", d)
	}
	i := 0
	publish := func(k int) {
		for end := i + k; i < end; i++ {
			p.Publish(decisionEvent(i))
		}
	}
	publish(100) // before the server ever ran
	waitFor(t, 5*time.Second, "100 buffered", func() bool { return p.Stats().Buffered == 100 })
	srv.start()
	waitFor(t, 20*time.Second, "first 100 published", func() bool { return p.Stats().Published == 100 })

	publish(2000) // and stop the server while they are in flight
	srv.stop()
	t.Logf("after stop: %+v", p.Stats())
	publish(500) // while it is down
	waitFor(t, 10*time.Second, "events held while down", func() bool {
		st := p.Stats()
		return st.Published+st.Buffered == 2600
	})
	srv.start()
	publish(400)
	waitFor(t, 30*time.Second, "everything published", func() bool { return p.Stats().Published >= 3000 && p.Stats().Buffered == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Dropped != 0 {
		t.Fatalf("dropped %d", st.Dropped)
	}
	checkSequence(t, ids(t, readStream(t, srv.url(), "arbtest", "arbtest.>")), 3000)
}

func TestPublisherOverflowIsCounted(t *testing.T) {
	url := "nats://127.0.0.1:" + strconv.Itoa(freePort(t)) // nothing listens
	p, err := NewPublisher(context.Background(), url, Options{Buffer: 10, InFlight: 5, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // Publish never blocks, even with NATS down and the buffer full
		for i := 0; i < 1000; i++ {
			p.Publish(decisionEvent(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked")
	}
	// Room: the buffer (10) plus what the publisher goroutine holds (up to
	// InFlight, 5) if it took events before the buffer filled.
	waitFor(t, 5*time.Second, "every event buffered or dropped", func() bool {
		st := p.Stats()
		return st.Buffered+st.Dropped == 1000 && st.Buffered >= 10 && st.Buffered <= 15 && st.Published == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Fatal("Close with NATS down and events buffered: want an error")
	}
	if st := p.Stats(); st.Dropped != 1000 || st.Buffered != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	p.Publish(decisionEvent(0))
	if st := p.Stats(); st.Dropped != 1001 {
		t.Fatalf("Publish after Close not counted: %+v", st)
	}
}

func TestPublisherCoreNATS(t *testing.T) {
	url := coreServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("arbiter.>")
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	p, err := NewPublisher(context.Background(), url, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		p.Publish(decisionEvent(i))
	}
	outcome, err := (&wire.OutcomeEvent{Type: "outcome", ID: "out_1", Outcome: "converted", Experiments: []wire.Assignment{}}).Message()
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(outcome)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 51; i++ {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want := "arbiter.decision.checkout"
		if i == 50 {
			want = "arbiter.outcome.converted"
		}
		if m.Subject != want {
			t.Fatalf("message %d on %s, want %s", i, m.Subject, want)
		}
	}
}

func TestCleanSubject(t *testing.T) {
	for in, want := range map[string]string{
		"arbiter.decision.checkout": "arbiter.decision.checkout",
		"arbiter.decision.":         "arbiter.decision._",
		"arbiter.decision.a b":      "arbiter.decision.a_b",
		"arbiter.decision.*":        "arbiter.decision._",
		"arbiter.decision.>":        "arbiter.decision._",
		"arbiter.decision..x":       "arbiter.decision._.x",
	} {
		if got := cleanSubject(in); got != want {
			t.Errorf("cleanSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

// A stream an operator limited may refuse an event without a word when it
// was published without asking for an acknowledgement: events near its
// size limit always ask, so the refusal is seen, counted and logged.
func TestPublisherSeesRefusalsOfALimitedStream(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	js := testJetStream(t, url)
	cfg := StreamConfig(Options{Prefix: prefix})
	cfg.MaxMsgSize = 1000
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		e := decisionEvent(i)
		if i == 3 || i == 150 {
			e = decisionEvent(i, strings.Repeat("x", 2000)) // over the stream's limit
		}
		p.Publish(e)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != n-2 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want %d published and 2 dropped", st, n-2)
	}
	if got := len(readStream(t, url, prefix, prefix+".decision.>")); got != n-2 {
		t.Fatalf("the stream holds %d events, want %d", got, n-2)
	}
}

// TestPublisherReusesMessages: the messages of acknowledged events are
// reused for later ones; each stored event still carries its own id and
// its own bytes.
func TestPublisherReusesMessages(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	const rounds, n = 3, 300
	for r := range rounds {
		for i := r * n; i < (r+1)*n; i++ {
			p.Publish(decisionEvent(i))
		}
		want := uint64((r + 1) * n)
		waitFor(t, 20*time.Second, "the round's acknowledgements", func() bool { return p.Stats().Published >= want })
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	msgs := readStream(t, url, prefix, prefix+".decision.>")
	checkSequence(t, ids(t, msgs), rounds*n)
}

func TestRecyclerQueue(t *testing.T) {
	tests := []struct {
		name     string
		inFlight int // events in the queue before the oldest is done with
		total    int
		maxCap   int // the queue's array never grows past this
	}{
		{"one at a time", 1, 10000, 64},
		{"acks every 64", 64, 10000, 256},
		{"a backlog", 3000, 10000, 8192},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rc recycler
			var q []outMsg
			next, done := 0, 0
			for done < tc.total {
				for len(q) < tc.inFlight && next < tc.total {
					q = rc.push(q, outMsg{gen: uint64(next)})
					next++
				}
				if got := q[0].gen; got != uint64(done) {
					t.Fatalf("queue head is event %d, want %d", got, done)
				}
				q[0] = outMsg{}
				q = q[1:]
				done++
			}
			if cap(rc.back) > tc.maxCap {
				t.Errorf("the queue's array grew to %d entries for %d in flight, want at most %d", cap(rc.back), tc.inFlight, tc.maxCap)
			}
		})
	}
}

func TestRecyclerMessage(t *testing.T) {
	p := &Publisher{opts: Options{Prefix: "arbiter"}}
	var rc recycler
	q := p.appendEvent(&rc, nil, &wire.Message{ID: "dcs_1", Kind: "decision", Key: "checkout", JSON: []byte(`{"a":1}`), Exposure: `{"customer_id":"c-1"}`})
	first := q[0].msg
	first.Header.Set("X-Other", "v") // as a publish option would
	rc.putMsg(first)
	tests := []struct {
		name    string
		ev      wire.Message
		subject string
		id      string
	}{
		{"another id", wire.Message{ID: "dcs_2", Kind: "outcome", Key: "purchase", JSON: []byte(`{"b":2}`)}, "arbiter.outcome.purchase", "dcs_2"},
		{"no id", wire.Message{Kind: "rules", Key: "reloaded", JSON: []byte(`{}`)}, "arbiter.rules.reloaded", ""},
		{"an id again", wire.Message{ID: "dcs_3", Kind: "decision", Key: "cart page", JSON: []byte(`{"c":3}`), Exposure: `{"customer_id":"c-3"}`}, "arbiter.decision.cart_page", "dcs_3"},
		{"an exposure again", wire.Message{ID: "dcs_4", Kind: "decision", Key: "cart page", JSON: []byte(`{"d":4}`), Exposure: `{"customer_id":"c-4"}`}, "arbiter.decision.cart_page", "dcs_4"},
		{"a decision without one", wire.Message{ID: "dcs_5", Kind: "decision", Key: "checkout", JSON: []byte(`{"e":5}`)}, "arbiter.decision.checkout", "dcs_5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := p.appendEvent(&rc, nil, &tc.ev)
			m := q[0].msg
			if m != first {
				t.Fatal("the message of a done event was not reused")
			}
			if m.Subject != tc.subject || string(m.Data) != string(tc.ev.JSON) {
				t.Errorf("subject %q data %s, want %q %s", m.Subject, m.Data, tc.subject, tc.ev.JSON)
			}
			if got := m.Header.Get(jetstream.MsgIDHeader); got != tc.id {
				t.Errorf("Nats-Msg-Id %q, want %q", got, tc.id)
			}
			if got := m.Header.Get(wire.ExposureHeader); got != tc.ev.Exposure {
				t.Errorf("%s %q, want %q", wire.ExposureHeader, got, tc.ev.Exposure)
			}
			want := 0
			for _, v := range []string{tc.id, tc.ev.Exposure} {
				if v != "" {
					want++
				}
			}
			if len(m.Header) != want {
				t.Errorf("header %v kept another event's values", m.Header)
			}
			rc.putMsg(m)
		})
	}
}

// TestPublisherEmbeddedAsyncPersist: serve's embedded set-up (in process,
// EmbeddedDuplicates, AsyncPersist): the stream is created with
// asynchronous persistence, and still stores every event once, in order,
// a resent one deduplicated by its Nats-Msg-Id.
func TestPublisherEmbeddedAsyncPersist(t *testing.T) {
	emb, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop)
	prefix := testPrefix(t, emb.URL)
	ctx := context.Background()
	p, err := NewPublisher(ctx, emb.URL, Options{Prefix: prefix, InProcess: emb, Duplicates: EmbeddedDuplicates, AsyncPersist: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		p.Publish(decisionEvent(i))
	}
	p.Publish(decisionEvent(n - 1)) // a resend
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	js := testJetStream(t, emb.URL)
	s, err := js.Stream(ctx, StreamName(prefix))
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.PersistMode != jetstream.AsyncPersistMode || cfg.Duplicates != EmbeddedDuplicates {
		t.Errorf("stream persist mode %v, duplicates %v; want async, %v", cfg.PersistMode, cfg.Duplicates, EmbeddedDuplicates)
	}
	checkSequence(t, ids(t, readStream(t, emb.URL, prefix, prefix+".decision.>")), n)
}

// TestPublisherMemoryStreamOnEmbedded: Options.Memory creates the stream
// in memory with its bound, on an embedded server whose memory is raised
// by EmbeddedOptions.MaxMemory (80 MiB is more than the server's reserve
// alone allows: creating the stream fails without it).
func TestPublisherMemoryStreamOnEmbedded(t *testing.T) {
	const bound = 80 << 20
	emb, err := StartEmbeddedWith(EmbeddedOptions{StoreDir: t.TempDir(), MaxMemory: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Stop()
	p, err := NewPublisher(context.Background(), emb.URL, Options{Memory: true, MaxBytes: bound, InProcess: emb, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if c := waitStream(t, emb.URL, StreamName(DefaultPrefix)).Config; c.Storage != jetstream.MemoryStorage || c.MaxBytes != bound {
		t.Fatalf("stream stored in %v, at most %d bytes; want memory, %d", c.Storage, c.MaxBytes, bound)
	}
}

// TestPublisherLinger: with Options.Linger an event that finds the
// publisher idle waits for others, but a burst of AckEvery goes at once,
// Close sends what lingers, and every event is stored once, in order.
func TestPublisherLinger(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Linger: time.Hour, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	js := testJetStream(t, url)
	stored := func() uint64 {
		st, err := js.Stream(ctx, StreamName(prefix))
		if err != nil {
			return 0
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 0
		}
		return info.State.Msgs
	}
	// The stream is made when the connection is: an event lingers only
	// once the publisher is ready.
	waitFor(t, 10*time.Second, "the stream", func() bool { _, err := js.Stream(ctx, StreamName(prefix)); return err == nil })
	p.Publish(decisionEvent(0))
	waitFor(t, 10*time.Second, "the first event taken", func() bool { return len(p.ch) == 0 }) // and lingering, for an hour
	const burst = 3 * AckEvery
	for i := 1; i <= burst; i++ {
		p.Publish(decisionEvent(i))
	}
	// Only the burst rule can have sent these.
	waitFor(t, 10*time.Second, "the burst stored", func() bool { return stored() >= AckEvery })
	p.Publish(decisionEvent(burst + 1)) // one more after the burst: it lingers until Close
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != burst+2 || st.Dropped != 0 || st.Buffered != 0 {
		t.Fatalf("stats %+v, want %d published", st, burst+2)
	}
	checkSequence(t, ids(t, readStream(t, url, prefix, prefix+".decision.>")), burst+2)
}

// waitStream waits for the publisher to create the stream name on the
// server at url, and returns its information.
func waitStream(t *testing.T, url, name string) *jetstream.StreamInfo {
	t.Helper()
	js := testJetStream(t, url)
	var info *jetstream.StreamInfo
	waitFor(t, 10*time.Second, "the stream", func() bool {
		s, err := js.Stream(context.Background(), name)
		if err != nil {
			return false
		}
		info = s.CachedInfo()
		return true
	})
	return info
}

// TestPublisherCountsItsFirstConnectionOnce: the first connection is one
// connection. nats.go calls the connect handler for it after Connect has
// returned connected, from its own goroutine; counted twice, the publisher
// took it for a new connection and resent every event it had sent.
func TestPublisherCountsItsFirstConnectionOnce(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	var logs syncBuffer
	p, err := NewPublisher(context.Background(), url, Options{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	waitFor(t, time.Minute, "the connect handler", func() bool {
		return slices.ContainsFunc(logs.lines(), func(l string) bool { return strings.Contains(l, "connected to NATS") })
	})
	if n := p.conns.Load(); n != 1 {
		t.Fatalf("%d connections counted, want 1", n)
	}
}

// TestNewPublisherRefusesAnotherScheme: a URL that is not NATS's (a Redis
// URL given for NATS) is refused with what to write, instead of a
// publisher that waits for ever for a server that cannot answer.
func TestNewPublisherRefusesAnotherScheme(t *testing.T) {
	cases := []struct {
		url     string
		wantErr string
	}{
		{"redis://:secret@127.0.0.1:6379/0", `"redis" is not a NATS scheme`},
		{"nats://127.0.0.1:4222,http://127.0.0.1:4223", `"http" is not a NATS scheme`},
		{"nats://127.0.0.1:1", ""},
		{"tls://127.0.0.1:1, ws://127.0.0.1:2", ""},
		{"127.0.0.1:1", ""},
	}
	for _, c := range cases {
		err := CheckURL(c.url)
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", c.url, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "nats://HOST:4222") {
			t.Errorf("%s: %v, want an error saying %s and what to write", c.url, err, c.wantErr)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the password: %v", c.url, err)
		}
		p, err := NewPublisher(context.Background(), c.url, Options{Logger: quietLogger()})
		if err == nil {
			p.Close(context.Background())
			t.Errorf("%s: NewPublisher accepted it", c.url)
		}
	}
}
