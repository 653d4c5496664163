package events

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestReadStreamRightAfterTheLeaderMoves: a read made just after the
// stream's leader moved gets every event, within seconds. (One in six
// such reads waited for its caller's whole deadline: a request of the
// read went unanswered while the leader moved; the commands, which give
// none, failed after nats.go's default 5 s.)
func TestReadStreamRightAfterTheLeaderMoves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster")
	}
	urls := startNATSCluster(t, 3)
	all := strings.Join(urls, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const prefix, n = "readmoves", 3000
	p, err := NewPublisher(ctx, all, Options{Prefix: prefix, Replicas: 3, Logger: quietLogger(), AckTimeout: time.Second, ReconnectWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p.Publish(decisionEvent(i))
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != n {
		t.Fatalf("stats %+v, want %d published", st, n)
	}
	js := testJetStream(t, all)
	nc := js.Conn()
	leader := func() string { return streamLeader(ctx, js, prefix) }
	const rounds = 6
	for r := range rounds {
		waitFor(t, 30*time.Second, "the stream's leader", func() bool { return leader() != "" })
		if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+StreamName(prefix), nil, 5*time.Second); err != nil {
			t.Fatalf("round %d: step down: %v", r, err)
		}
		var got int
		// Each read from another node, at once: the stream has no leader
		// for a moment.
		rctx, rcancel := context.WithTimeout(ctx, apiPatience+15*time.Second)
		began := time.Now()
		_, err := ReadStream(rctx, urls[r%len(urls)], ReadOptions{Prefix: prefix, Subject: prefix + ".decision.>"}, func(Message) { got++ })
		rcancel()
		t.Logf("round %d: %d read in %v", r, got, time.Since(began).Round(time.Millisecond))
		if err != nil || got != n {
			t.Errorf("round %d: read %d of the %d events: %v", r, got, n, err)
		}
	}
}

// TestReadToEndStalled: a consumer that stops delivering while the stream
// still holds events for it (here one held back by an unacknowledged
// message, as a stream whose leader moved holds back its events) makes the
// read fail with errStalled once its patience is spent, not return what it
// read as the whole; a consumer with nothing left ends the read at its
// first idle wait.
func TestReadToEndStalled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, st, prefix := streamOf(t, ctx, 10)

	lim := readLimits{idle: 50 * time.Millisecond, patience: 400 * time.Millisecond}

	held, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, AckWait: time.Hour, InactiveThreshold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var read int
	began := time.Now()
	err = readToEnd(ctx, held, 10, lim, func(m jetstream.Msg, _ *jetstream.MsgMetadata) { read++ }) // never acknowledged: the first holds the rest back
	if !errors.Is(err, errStalled) {
		t.Fatalf("read %d of 10 from a consumer that holds 9 back: err %v, want errStalled", read, err)
	}
	if d := time.Since(began); d < lim.patience || d > 20*lim.patience {
		t.Errorf("gave up after %v, want about its patience %v", d, lim.patience)
	}
	if read != 1 || !strings.Contains(err.Error(), "9 still to read") {
		t.Errorf("read %d, error %q: want 1 read and 9 said to be left", read, err)
	}

	filtered, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + ".outcome.>"}})
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	if err := readToEnd(ctx, filtered, 10, lim, func(jetstream.Msg, *jetstream.MsgMetadata) { t.Error("a message that does not match") }); err != nil {
		t.Fatalf("a read that matches nothing: %v, want nil", err)
	}
	if d := time.Since(began); d >= lim.patience {
		t.Errorf("a read that matches nothing took %v, more than its patience %v", d, lim.patience)
	}
}

// TestReadToEndSlowReader: time the caller spends on a message is not the
// stream's: a reader that pauses longer than the idle wait near the end
// (an export piped into a paused pager) still gets every message (the
// watchdog used to take the pause for the end and drop what the iterator
// held: 700 of 1,500 read, and no error).
func TestReadToEndSlowReader(t *testing.T) {
	const n = 1500
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, st, _ := streamOf(t, ctx, n)

	lim := readLimits{idle: 50 * time.Millisecond, patience: 200 * time.Millisecond}
	for _, pause := range []int{700, n - 2} {
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		var read int
		err = readToEnd(ctx, cons, n, lim, func(jetstream.Msg, *jetstream.MsgMetadata) {
			read++
			if read == pause {
				time.Sleep(2 * lim.patience) // the caller's pause, longer than the watchdog's patience
			}
		})
		if err != nil || read != n {
			t.Errorf("paused at message %d: read %d of %d, err %v", pause, read, n, err)
		}
	}
}

// TestReadToEndStreamGone: a stream deleted under a read ends it with an
// error soon after the caller's deadline (before 060c00d the read stopped
// at its first idle wait and returned what it had, without an error). Not
// at the deadline itself: nats.go's ordered consumer, making itself again
// inside Next, sees the iterator stopped only at its next attempt, up to
// 10 s later; the watchdog asks the consumer aside, so that it never waits
// on the lock that retry holds.
func TestReadToEndStreamGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js, st, prefix := streamOf(t, ctx, 3000)

	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const deadline = 20 * time.Second
	rctx, rcancel := context.WithTimeout(ctx, deadline)
	defer rcancel()
	began := time.Now()
	var read int
	// Pulls of 4 KiB, a few dozen of these small events: a read's 8 MiB
	// would have had the whole stream on its way before the deletion.
	lim := readLimits{idle: 100 * time.Millisecond, patience: time.Minute, bytes: 4 << 10}
	err = readToEnd(rctx, cons, 3000, lim, func(jetstream.Msg, *jetstream.MsgMetadata) {
		if read++; read == 10 {
			if err := js.DeleteStream(ctx, StreamName(prefix)); err != nil {
				t.Error(err)
			}
		}
	})
	took := time.Since(began)
	if err == nil {
		t.Fatalf("read %d of 3,000 from a stream deleted after 10, and no error", read)
	}
	if took > deadline+12*time.Second {
		t.Errorf("the read ended %v after it began, its deadline %v", took, deadline)
	}
	t.Logf("read %d, ended after %v: %v", read, took.Round(time.Millisecond), err)
}

// TestReadStreamWithoutJetStream: a server without JetStream is said at
// once, not asked again for the read's patience.
func TestReadStreamWithoutJetStream(t *testing.T) {
	url := coreServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, opts := range []ReadOptions{{}, {Stream: "ARBITER"}} {
		began := time.Now()
		_, err := ReadStream(ctx, url, opts, func(Message) { t.Error("a message from a server without JetStream") })
		if err == nil || !strings.Contains(err.Error(), "has no JetStream") {
			t.Errorf("%+v: err %v, want the server has no JetStream", opts, err)
		}
		if took := time.Since(began); took > apiWait {
			t.Errorf("%+v: took %v to say so", opts, took)
		}
	}
}

// streamOf makes a stream of the test's own on the test's NATS server and
// stores n decision messages in it, their bodies "0" to n-1.
func streamOf(t *testing.T, ctx context.Context, n int) (jetstream.JetStream, jetstream.Stream, string) {
	t.Helper()
	url := testNATS(t)
	prefix := testPrefix(t, url)
	js := testJetStream(t, url)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamName(prefix), Subjects: []string{prefix + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.PublishAsync(prefix+".decision.checkout", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing timed out")
	}
	return js, st, prefix
}

// streamLeader returns the name of the prefix's stream's leader, "" when
// it has none or is not clustered.
func streamLeader(ctx context.Context, js jetstream.JetStream, prefix string) string {
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := js.Stream(ictx, StreamName(prefix))
	if err != nil || st.CachedInfo().Cluster == nil {
		return ""
	}
	return st.CachedInfo().Cluster.Leader
}
