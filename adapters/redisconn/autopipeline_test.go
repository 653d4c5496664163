package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAutoPipelinedSilentServerIsBounded: a server that accepts and never
// answers: 64 concurrent fetches through the autopipeliner each end within
// the time limit, none waits behind a batch that will never come back, and
// the same holds for the next wave.
func TestAutoPipelinedSilentServerIsBounded(t *testing.T) {
	c, err := Open("redis://"+silentServer(t), 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ap := AutoPipelined(c)
	if _, ok := ap.(Deadlined); !ok {
		t.Fatalf("AutoPipelined gave %T, want the autopipeliner", ap)
	}
	for wave := 0; wave < 2; wave++ {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				start := time.Now()
				if err := ap.HGetAll(ctx, fmt.Sprint("k", i)).Err(); err == nil {
					errs <- fmt.Errorf("fetch %d: no error from a silent server", i)
				} else if d := time.Since(start); d > 500*time.Millisecond {
					errs <- fmt.Errorf("fetch %d took %v with a 20ms deadline", i, d)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("wave %d: %v", wave, err)
		}
	}
}

// TestAutoPipelinedAnswersEachCaller: concurrent fetches of different keys
// through the autopipeliner each get their own hash back.
func TestAutoPipelinedAnswersEachCaller(t *testing.T) {
	c, _, stop, err := EmbeddedWith(Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		if err := c.HSet(ctx, fmt.Sprint("p:", i), "n", i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ap := AutoPipelined(c)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < 200; i += 16 {
				m, err := ap.HGetAll(ctx, fmt.Sprint("p:", i)).Result()
				if err != nil || m["n"] != fmt.Sprint(i) {
					t.Errorf("p:%d: %v %v", i, m, err)
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestAutoPipelinedDoesNotHoldACommandBehindABatch: a command that comes
// while another is on the wire goes out at once (full duplex), not after
// the first one's answer, as the half-duplex autopipeliner did (it also
// held such a command a few silence gaps to batch it: a median of 2.1 ms a
// decision in scenario b on loopback). The link withholds the first
// command's answer until the second command reaches it: in full duplex it
// does at once; held behind the answer, it never would. (It measured a
// round trip through a link of 15 ms each way instead, which a loaded
// machine stretched past its bound: 84 ms against 45 under a parallel CI.)
func TestAutoPipelinedDoesNotHoldACommandBehindABatch(t *testing.T) {
	for _, c := range []struct {
		mode string
		held bool // the second command waits for the first's answer
	}{{FullDuplex, false}, {HalfDuplex, true}} {
		t.Run(c.mode, func(t *testing.T) {
			_, srv, stop, err := EmbeddedWith(Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			link := gateLink(t, srv.Addr())
			client, err := Open("redis://"+link.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			ap := AutoPipelinedMode(client, c.mode)
			ctx := context.Background()
			if err := ap.Set(ctx, "k", "v", 0).Err(); err != nil { // the connection, dialed and held
				t.Fatal(err)
			}
			link.arm() // from now on, answers wait for the gate
			first, second := make(chan error, 1), make(chan error, 1)
			go func() { first <- ap.Get(ctx, "k").Err() }()
			<-link.sent // the first command is on the wire, its answer withheld
			go func() { second <- ap.Get(ctx, "k").Err() }()
			// How long a held command is given to show that it is not held: on
			// the half-duplex path it waits for an answer that never comes.
			wait := 3 * time.Second
			if c.held {
				wait = 300 * time.Millisecond
			}
			var sentMeanwhile bool
			select {
			case <-link.sent:
				sentMeanwhile = true
			case <-time.After(wait):
			}
			link.open()
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if err := <-second; err != nil {
				t.Fatal(err)
			}
			if sentMeanwhile == c.held {
				t.Errorf("%s: the second command was sent while the first's answer was withheld: %v, want %v", c.mode, sentMeanwhile, !c.held)
			}
		})
	}
}

// AutoPipelinedMode gives the mode asked for; anything but half-duplex is
// full duplex.
func TestAutoPipelinedMode(t *testing.T) {
	for _, c := range []struct {
		mode string
		full bool
	}{{FullDuplex, true}, {HalfDuplex, false}, {"", true}} {
		client, _, stop, err := EmbeddedWith(Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ap, ok := AutoPipelinedMode(client, c.mode).(Deadlined)
		if !ok {
			t.Fatalf("%q: not the autopipeliner", c.mode)
		}
		if got := ap.Config().FullDuplex; got != c.full {
			t.Errorf("%q: full duplex %v, want %v", c.mode, got, c.full)
		}
		stop()
	}
}

// gatedLink is a TCP proxy to a server that, once armed, withholds the
// server's answers until opened, and says when a chunk from the client
// reaches it.
type gatedLink struct {
	addr  string
	armed chan struct{}
	gate  chan struct{} // closed: answers flow
	sent  chan struct{} // once armed: a chunk from the client reached the proxy
}

func (l *gatedLink) arm()  { close(l.armed) }
func (l *gatedLink) open() { close(l.gate) }

// gateLink proxies to upstream (gatedLink).
func gateLink(t *testing.T, upstream string) *gatedLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &gatedLink{addr: ln.Addr().String(), armed: make(chan struct{}), gate: make(chan struct{}), sent: make(chan struct{}, 16)}
	t.Cleanup(func() { ln.Close() })
	armed := func() bool {
		select {
		case <-l.armed:
			return true
		default:
			return false
		}
	}
	pipe := func(dst, src net.Conn, fromClient bool) {
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if fromClient && armed() {
					l.sent <- struct{}{}
				}
				if !fromClient && armed() {
					<-l.gate
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				continue
			}
			go pipe(server, client, true)
			go pipe(client, server, false)
		}
	}()
	return l
}

// TestAutoPipelinedHonoursTheCallersDeadline: a Redis that accepts and never
// answers, a client whose own time limit is long (500 ms), and calls with a
// 20 ms deadline, as the engine gives a profile fetch (--redis-timeout) and
// the ledger (what is left of --decision-timeout): each call returns at its
// deadline, with the context's error, in either mode. go-redis's
// autopipeliner does not honour a queued command's context (its doc, "Per-
// command contexts"): the calls waited for the connection's read timeout,
// and a decision on a hung Redis took 50-120 ms against a 50 ms budget.
func TestAutoPipelinedHonoursTheCallersDeadline(t *testing.T) {
	const limit, deadline = 500 * time.Millisecond, 20 * time.Millisecond
	calls := []struct {
		name string
		call func(ctx context.Context, ap redis.Cmdable) error
	}{
		{"HGETALL", func(ctx context.Context, ap redis.Cmdable) error { return ap.HGetAll(ctx, "p:{1}").Err() }},
		{"EVALSHA", func(ctx context.Context, ap redis.Cmdable) error {
			return ap.EvalSha(ctx, "0123456789012345678901234567890123456789", []string{"k"}, "a", 1).Err()
		}},
		{"EVAL", func(ctx context.Context, ap redis.Cmdable) error {
			return ap.Eval(ctx, "return 1", []string{"k"}, "a").Err()
		}},
	}
	for _, mode := range []string{FullDuplex, HalfDuplex} {
		for _, c := range calls {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				client, err := Open("redis://"+silentServer(t), limit)
				if err != nil {
					t.Fatal(err)
				}
				defer client.Close()
				ap := AutoPipelinedMode(client, mode)
				for i := 0; i < 3; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), deadline)
					start := time.Now()
					err := c.call(ctx, ap)
					took := time.Since(start)
					cancel()
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("call %d: error %v, want the context's deadline", i, err)
					}
					if took > limit/2 {
						t.Errorf("call %d took %v with a %v deadline (the client's limit: %v)", i, took, deadline, limit)
					}
				}
			})
		}
	}
}

// TestAutoPipelinedDownIsQuick: nothing listens: calls through the
// autopipeliner fail at once, in either mode, as the client's own do
// (TestDownIsQuick). Full duplex, go-redis's engine waited a retry backoff
// (8-512 ms) after each failed dial, while the next commands queued behind
// it: each call took 12-33 ms, a decision its whole profile timeout.
func TestAutoPipelinedDownIsQuick(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, mode := range []string{FullDuplex, HalfDuplex} {
		t.Run(mode, func(t *testing.T) {
			// A refused dial answers at once; the limit is wide so that a
			// loaded machine (the race detector, other packages' tests)
			// does not turn a refusal into a dial timeout.
			c, err := Open("redis://"+addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ap := AutoPipelinedMode(c, mode)
			var took []time.Duration
			for i := 0; i < 31; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				start := time.Now()
				err := ap.HGetAll(ctx, "k").Err()
				took = append(took, time.Since(start))
				cancel()
				if err == nil || errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("call %d: error %v, want the dial's", i, err)
				}
			}
			slices.Sort(took)
			if median := took[len(took)/2]; median > 5*time.Millisecond {
				t.Errorf("the median call to a closed port took %v (all: %v)", median, took)
			}
		})
	}
}
