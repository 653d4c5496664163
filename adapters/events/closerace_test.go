package events

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPublishRacingCloseIsCounted: serve closes the publisher while
// requests that outlived the shutdown timeout still publish. Every event
// given to Publish, before, during or after Close, is published or counted
// as dropped: none sits in the buffer uncounted once Close has returned
// (a Publish that had passed the closed check when Close began used to
// put its event in the buffer after Close had counted and emptied it).
func TestPublishRacingCloseIsCounted(t *testing.T) {
	url := coreServer(t)
	rounds := 10
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		p, err := NewPublisher(context.Background(), url, Options{Prefix: "arbrace", Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Uint64
		closed := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 2 * runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-closed:
						return
					default:
					}
					calls.Add(1)
					p.Publish(decisionEvent(g*1_000_000 + i))
				}
			}()
		}
		waitFor(t, 5*time.Second, "events published", func() bool { return p.Stats().Published > 100 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.Close(ctx) // events still buffered at its end are counted in the error
		cancel()
		close(closed)
		wg.Wait()
		st := p.Stats()
		if st.Published+st.Dropped != calls.Load() || st.Buffered != 0 {
			t.Fatalf("round %d: %d events given to Publish; after Close: %d published + %d dropped, %d still buffered: an event was lost uncounted",
				round, calls.Load(), st.Published, st.Dropped, st.Buffered)
		}
	}
}

// TestPublishPassingCloseIsCounted: a Publish that checked the publisher
// open just before Close began, and sends its event only once Close has
// published and counted what was left and closed the connection, still
// has its event counted (dropped) when Close returns, and the drops after
// Close are logged once.
func TestPublishPassingCloseIsCounted(t *testing.T) {
	url := coreServer(t)
	var logs syncLog
	p, err := NewPublisher(context.Background(), url, Options{Prefix: "arbrace", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(decisionEvent(0))
	waitFor(t, 5*time.Second, "the first event published", func() bool { return p.Stats().Published == 1 })

	inSend := make(chan struct{})
	var closedConn atomic.Bool
	p.beforeSend = func() {
		close(inSend)
		// Close runs meanwhile, up to where it has published what it
		// could and closed the connection.
		closedConn.Store(poll(10*time.Second, p.nc.IsClosed))
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		p.Publish(decisionEvent(1))
	}()
	<-inSend
	p.beforeSend = nil // the later calls go straight through (Publish read it before)
	closeErr := make(chan error, 1)
	go func() { closeErr <- p.Close(context.Background()) }()
	<-published
	err = <-closeErr
	if !closedConn.Load() {
		t.Fatal("Close did not close the connection while a Publish was between its check and its send")
	}
	for i := 2; i < 5; i++ {
		p.Publish(decisionEvent(i))
	}
	st := p.Stats()
	if st.Published+st.Dropped != 5 || st.Buffered != 0 {
		t.Fatalf("5 events given to Publish; after Close: %d published + %d dropped, %d left in the buffer uncounted (Close said %v)",
			st.Published, st.Dropped, st.Buffered, err)
	}
	if st.Dropped == 4 && err == nil {
		t.Errorf("Close dropped the event that passed it and said nothing")
	}
	if n := strings.Count(logs.String(), "published after the publisher closed"); n != 1 {
		t.Errorf("the drops after Close logged %d times, want once:\n%s", n, logs.String())
	}
}
