package events

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// heldReads is an embedded server's in-process connection whose reads (the
// server's acknowledgements, on their way to the publisher) are held while
// a gate is shut: a process stalled until the test opens it.
type heldReads struct {
	emb  *EmbeddedNATS
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (h *heldReads) InProcessConn() (net.Conn, error) {
	c, err := h.emb.InProcessConn()
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: c, h: h}, nil
}

// shut holds the reads that complete from now on until open.
func (h *heldReads) shut() {
	h.mu.Lock()
	h.gate = make(chan struct{})
	h.mu.Unlock()
}

func (h *heldReads) open() {
	h.mu.Lock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
	h.mu.Unlock()
}

type heldConn struct {
	net.Conn
	h *heldReads
}

func (c *heldConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.h.mu.Lock()
	gate := c.h.gate
	c.h.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return n, err
}

// TestEmbeddedWindowCoversTheResend: with the embedded server's ack timeout
// (EmbeddedAckTimeout) and duplicate window (EmbeddedDuplicates), a burst
// whose acknowledgements are held until the publisher has sent it again
// (after the timeout) is stored once, in order: the window outlasts the
// resend.
func TestEmbeddedWindowCoversTheResend(t *testing.T) {
	emb, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Stop)
	conn := &heldReads{emb: emb}
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
	// The publisher has set its stream up and had an acknowledgement: from
	// here on, held reads hold acknowledgements only.
	waitFor(t, 30*time.Second, "the first event acknowledged", func() bool { return p.Stats().Published == 1 })
	conn.shut()
	t.Cleanup(conn.open)
	for i := 1; i < n; i++ {
		p.Publish(decisionEvent(i))
	}
	waitFor(t, 30*time.Second, "the burst sent again after the ack timeout", func() bool { return p.Stats().Resent > 0 })
	conn.open()
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
	msgs := readStream(t, emb.URL, "window", "window.decision.>")
	got := ids(t, msgs)
	// The window is what stores a resent event once, so an event may be
	// stored twice only when its resend reached the server after the
	// window of its first copy had ended: a test process stalled for over
	// a second between the ack timeout and the resend (seen once in CI's
	// parallel go test ./..., 6 of 299). Such a copy is the bound
	// docs/events.md states (duplicates never more than Resent); a copy
	// within the window, or every resend stored again, is a window that
	// does not cover the resend.
	first := make(map[string]time.Time, len(got))
	var once []string
	late := 0
	for i, id := range got {
		md, err := msgs[i].Metadata()
		if err != nil {
			t.Fatal(err)
		}
		at, seen := first[id]
		if !seen {
			first[id] = md.Timestamp
			once = append(once, id)
			continue
		}
		if gap := md.Timestamp.Sub(at); gap < EmbeddedDuplicates {
			t.Errorf("%s stored again %v after its first copy, within the %v window", id, gap, EmbeddedDuplicates)
		}
		late++
	}
	if late > 0 {
		t.Logf("%d resent events reached the server after their window (a stalled process)", late)
		if uint64(late) >= st.Resent {
			t.Errorf("every one of the %d resent events was stored again: the window covered none", st.Resent)
		}
	}
	checkSequence(t, once, n)
}
