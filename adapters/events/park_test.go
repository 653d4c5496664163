package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/wire"
)

// TestPublisherParksAnEventWhoseIdIsInProcess: on a stream where every
// event asks for its own acknowledgement, an event the stream answers 409
// "duplicate message id is in process" for waits apart, asked again after
// a pause that doubles, while the events after it are stored at once; it
// is stored when the stream stores it, and nothing is lost or resent
// besides it.
//
// A real leader answers so for one id until the duplicate window passes
// it only after its cluster's nodes stalled (one run in about ten of
// TestPublisherLosesNothingWhileTheLeaderMoves with the process stopped
// for 0.8 s every 2.8 s). Here a core NATS responder answers for that
// event's subject, which the stream leaves out, as such a leader would:
// 409 four times, then an acknowledgement. The other events go to the
// real stream. Before parking, the publisher resent every event after the
// stuck one each second and stored none of them until it was stored.
func TestPublisherParksAnEventWhoseIdIsInProcess(t *testing.T) {
	url := testNATS(t)
	prefix := testPrefix(t, url)
	ctx := context.Background()
	js := testJetStream(t, url)
	cfg := StreamConfig(Options{Prefix: prefix})
	cfg.Subjects = []string{prefix + ".decision.checkout"}
	cfg.Discard = jetstream.DiscardNew // the publisher asks for every acknowledgement, as on a cluster
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	const refusals = 4
	var (
		mu     sync.Mutex
		asked  []time.Time
		parked []uint64 // Stats().Parked at each ask
		pub    atomic.Pointer[Publisher]
	)
	nc := js.Conn()
	sub, err := nc.Subscribe(prefix+".decision.stuck", func(m *nats.Msg) {
		mu.Lock()
		asked = append(asked, time.Now())
		if p := pub.Load(); p != nil {
			parked = append(parked, p.Stats().Parked)
		}
		n := len(asked)
		mu.Unlock()
		var answer any = map[string]any{"stream": cfg.Name, "seq": 1_000_000}
		if n <= refusals {
			answer = map[string]any{"error": map[string]any{"code": 409, "err_code": int(errCodeDuplicateInProcess),
				"description": "duplicate message id is in process"}}
		}
		b, _ := json.Marshal(answer)
		if err := m.Respond(b); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	var (
		smu    sync.Mutex
		stored []string
	)
	const wait = 50 * time.Millisecond
	var logs syncBuffer // printed when the test fails
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the publisher's log:\n%s", strings.Join(logs.lines(), "\n"))
		}
	})
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// AckTimeout: a stall of this machine must not time an event out,
	// which would resend it and ask the stuck one once more.
	p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: log, ReconnectWait: wait, AckTimeout: time.Minute,
		Stored: func(e *wire.Message) {
			smu.Lock()
			stored = append(stored, e.ID)
			smu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	pub.Store(p)
	const n = 300
	p.Publish(stuckEvent())
	for i := range n {
		p.Publish(decisionEvent(i))
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	st := p.Stats()
	if st.Published != n+1 || st.Dropped != 0 || st.Buffered != 0 || st.Parked != 0 {
		t.Fatalf("stats %+v, want %d published, none dropped or left", st, n+1)
	}
	// The stuck event was asked refusals+1 times, and resent only itself.
	if len(asked) != refusals+1 || st.Resent != refusals {
		t.Fatalf("the stuck event was asked %d times and %d events resent; want %d and %d", len(asked), st.Resent, refusals+1, refusals)
	}
	// It waited apart from the second ask on (the first found it in q).
	if want := []uint64{0, 1, 1, 1, 1}; !slices.Equal(parked, want) {
		t.Errorf("Stats().Parked at each ask: %v, want %v", parked, want)
	}
	// ... after pauses of at least wait, 2×wait, 4×wait, 8×wait.
	for i := 1; i < len(asked); i++ {
		if gap, least := asked[i].Sub(asked[i-1]), wait<<(i-1); gap < least {
			t.Errorf("ask %d came %v after the one before, want at least %v", i+1, gap, least)
		}
	}
	// The events after it were stored before it, in their order, once.
	if len(stored) != n+1 || stored[n] != stuckEvent().ID {
		t.Fatalf("stored %d events, the last %q; want %d, the stuck one last", len(stored), stored[max(len(stored)-1, 0):], n+1)
	}
	if !slices.IsSortedFunc(stored[:n], strings.Compare) {
		t.Fatal("the events after the stuck one were not stored in their order")
	}
	if got := len(readStream(t, url, prefix, prefix+".decision.>")); got != n {
		t.Fatalf("the stream holds %d events, want %d", got, n)
	}
}

// TestPublisherParkedAcrossARestart: an event set apart when NATS goes
// away is asked again on the new connection. When NATS comes back as it
// was, it is stored; when it comes back with a max payload the event
// exceeds (with JetStream or without), it is dropped and counted, as any
// other such event. Either way the events after it go on. Before, a
// parked event the new server could not take was asked again for ever:
// with JetStream each ask reset the queue and nothing more was
// published, without it the publisher goroutine spun.
func TestPublisherParkedAcrossARestart(t *testing.T) {
	for _, c := range []struct {
		name       string
		maxPayload int32 // of the server that comes back (0: the default)
		jetStream  bool
		stored     bool // the parked event is stored (else dropped)
	}{
		{"as it was", 0, true, true},
		{"smaller max payload", 1024, true, false},
		{"smaller max payload, core NATS", 1024, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			port, dir := freePort(t), t.TempDir()
			start := func(maxPayload int32, js bool) *server.Server {
				srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: js, StoreDir: dir,
					MaxPayload: maxPayload, NoLog: true, NoSigs: true})
				if err != nil {
					t.Fatal(err)
				}
				go srv.Start()
				if !srv.ReadyForConnections(time.Minute) {
					t.Fatalf("nats-server not listening on %d", port)
				}
				t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
				return srv
			}
			first := start(0, true)
			url := first.ClientURL()
			const prefix = "parkrestart"
			ctx := context.Background()
			// The responder stands for the stream's leader on the stuck
			// event's subject: 409 until release, then an acknowledgement.
			// Its connection comes back with the server.
			nc, err := nats.Connect(url, nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			cfg := StreamConfig(Options{Prefix: prefix})
			cfg.Subjects = []string{prefix + ".decision.checkout"}
			cfg.Discard = jetstream.DiscardNew // every event asks for its acknowledgement
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			var release atomic.Bool
			sub, err := nc.Subscribe(prefix+".decision.stuck", func(m *nats.Msg) {
				var answer any = map[string]any{"error": map[string]any{"code": 409, "err_code": int(errCodeDuplicateInProcess),
					"description": "duplicate message id is in process"}}
				if release.Load() {
					answer = map[string]any{"stream": cfg.Name, "seq": 1_000_000}
				}
				b, _ := json.Marshal(answer)
				_ = m.Respond(b)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}

			p, err := NewPublisher(ctx, url, Options{Prefix: prefix, Logger: quietLogger(), ReconnectWait: 50 * time.Millisecond, AckTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			p.Publish(stuckEvent(strings.Repeat("s", 2000)))
			for i := range 10 {
				p.Publish(decisionEvent(i))
			}
			waitFor(t, time.Minute, "the ten events after the stuck one published, it parked", func() bool {
				st := p.Stats()
				return st.Published == 10 && st.Parked == 1
			})

			first.Shutdown()
			first.WaitForShutdown()
			start(c.maxPayload, c.jetStream)
			release.Store(true)
			for i := 10; i < 20; i++ {
				p.Publish(decisionEvent(i))
			}
			want := Stats{Published: 21}
			if !c.stored {
				want = Stats{Published: 20, Dropped: 1}
			}
			waitFor(t, time.Minute, fmt.Sprintf("%d published and %d dropped, none parked", want.Published, want.Dropped), func() bool {
				st := p.Stats()
				return st.Published == want.Published && st.Dropped == want.Dropped && st.Parked == 0
			})
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := p.Close(cctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// stuckEvent is a decision event on placement "stuck", in the segments
// given.
func stuckEvent(segments ...string) *wire.Message {
	e := &wire.DecisionEvent{
		Type: "decision", ID: "dcs_000000", TS: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		CustomerID: "c-stuck", Placement: "stuck", Ruleset: "abc",
		Segments: append([]string{}, segments...), Experiments: []wire.Assignment{}, Actions: []wire.EventAction{}, Degraded: []string{},
	}
	m, err := e.Message()
	if err != nil {
		panic(err)
	}
	return m
}

// TestParkedNextAsk: a parked event is asked again after its pause, or
// when the duplicate window has passed its id, whichever comes first.
func TestParkedNextAsk(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	const window = 20*time.Second + time.Second // the window and the margin
	for _, c := range []struct {
		name string
		at   time.Duration // since it was parked
		wait time.Duration
		want time.Duration // since it was parked
	}{
		{"the pause ends before the window", 3 * time.Second, 3 * time.Second, 6 * time.Second},
		{"the window ends first", 12700 * time.Millisecond, 12800 * time.Millisecond, window},
		{"the window ends as the pause does", 13 * time.Second, 8 * time.Second, window},
		{"the window has passed", 25 * time.Second, 30 * time.Second, 55 * time.Second},
		{"the window ends at the answer", window, 30 * time.Second, window + 30*time.Second},
	} {
		pm := parkedMsg{since: t0, wait: c.wait}
		if got := pm.nextAsk(t0.Add(c.at), window).Sub(t0); got != c.want {
			t.Errorf("%s: asked again %v after it was parked, want %v", c.name, got, c.want)
		}
	}
}

// TestSetupWait: once a set-up has succeeded, an attempt's requests wait
// ten round trips of the connection, at least 1 s and at most 5 s, for six
// failures in a row, then twice as long each time up to 5 s.
func TestSetupWait(t *testing.T) {
	s, ms := time.Second, time.Millisecond
	for _, c := range []struct {
		rtt  time.Duration
		want []time.Duration // by failures in a row: 0, 1, ...
	}{
		{0, []time.Duration{s, s, s, s, s, s, 2 * s, 4 * s, 5 * s, 5 * s}},
		{ms, []time.Duration{s, s, s, s, s, s, 2 * s, 4 * s, 5 * s, 5 * s, 5 * s}},
		{200 * ms, []time.Duration{2 * s, 2 * s, 2 * s, 2 * s, 2 * s, 2 * s, 4 * s, 5 * s, 5 * s}},
		{300 * ms, []time.Duration{3 * s, 3 * s, 3 * s, 3 * s, 3 * s, 3 * s, 5 * s, 5 * s}},
		{800 * ms, []time.Duration{5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s}},
	} {
		for failed, want := range c.want {
			if got := setupWait(failed, c.rtt); got != want {
				t.Errorf("setupWait(%d, %v) = %v, want %v", failed, c.rtt, got, want)
			}
		}
		if got := setupWait(1000, c.rtt); got != 5*s {
			t.Errorf("setupWait(1000, %v) = %v, want 5s", c.rtt, got)
		}
	}
}
