package events

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// slowReads is an embedded server's in-process connection whose reads (the
// server's acknowledgements, on their way to the publisher) are held for
// delay while it is set: a process stalled for that long.
type slowReads struct {
	emb   *EmbeddedNATS
	delay atomic.Int64
}

func (s *slowReads) InProcessConn() (net.Conn, error) {
	c, err := s.emb.InProcessConn()
	if err != nil {
		return nil, err
	}
	return &slowConn{Conn: c, delay: &s.delay}, nil
}

type slowConn struct {
	net.Conn
	delay *atomic.Int64
}

func (c *slowConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if d := time.Duration(c.delay.Load()); d > 0 {
		time.Sleep(d) // the stall modelled, not synchronisation
	}
	return n, err
}

// TestEmbeddedWindowCoversTheResend: with the embedded server's ack timeout
// (EmbeddedAckTimeout) and duplicate window (EmbeddedDuplicates), a burst
// whose acknowledgements are held past the timeout is sent again, and the
// stream still stores each event once, in order: the window outlasts the
// resend.
func TestEmbeddedWindowCoversTheResend(t *testing.T) {
	emb, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop)
	conn := &slowReads{emb: emb}
	ctx := context.Background()
	p, err := NewPublisher(ctx, emb.URL, Options{Prefix: "window", Logger: quietLogger(), InProcess: conn,
		Duplicates: EmbeddedDuplicates, AckTimeout: EmbeddedAckTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if c := waitStream(t, emb.URL, StreamName("window")).Config; c.Duplicates != EmbeddedDuplicates {
		t.Fatalf("duplicate window %v, want %v", c.Duplicates, EmbeddedDuplicates)
	}
	const n = 300
	p.Publish(decisionEvent(0))
	conn.delay.Store(int64(EmbeddedAckTimeout * 3 / 2))
	for i := 1; i < n; i++ {
		p.Publish(decisionEvent(i))
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Stats().Resent == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no event was sent again: the acknowledgements were not held past the timeout")
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	conn.delay.Store(0)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Published != n || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d events sent again", st.Resent)
	checkSequence(t, ids(t, readStream(t, emb.URL, "window", "window.decision.>")), n)
}
