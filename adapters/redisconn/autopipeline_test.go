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

// TestAutoPipelinedDoesNotHoldACommandBehindABatch: through a link of 15
// ms each way, a command that comes while another is on the wire goes out
// at once and is answered one round trip later (full duplex), not after
// the first one's answer plus its own round trip, as the half-duplex
// autopipeliner did (it also held such a command a few silence gaps to
// batch it: a median of 2.1 ms a decision in scenario b on loopback).
func TestAutoPipelinedDoesNotHoldACommandBehindABatch(t *testing.T) {
	const oneWay = 15 * time.Millisecond
	_, srv, stop, err := EmbeddedWith(Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	link := slowLink(t, srv.Addr(), oneWay)
	c, err := Open("redis://"+link.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ap := AutoPipelined(c)
	ctx := context.Background()
	if err := ap.Set(ctx, "k", "v", 0).Err(); err != nil { // the connection, dialed and held
		t.Fatal(err)
	}
	link.arm()
	first := make(chan error, 1)
	go func() { first <- ap.Get(ctx, "k").Err() }()
	<-link.sent // the first command is on the wire
	start := time.Now()
	err = ap.Get(ctx, "k").Err()
	took := time.Since(start)
	if err != nil || <-first != nil {
		t.Fatal(err)
	}
	if rtt := 2 * oneWay; took > rtt*3/2 {
		t.Errorf("a command sent while another was on the wire took %v, want about one round trip (%v)", took, rtt)
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

// delayLink is a TCP proxy to a server that delays each direction.
type delayLink struct {
	addr  string
	armed chan struct{}
	sent  chan struct{} // once armed: a chunk from the client reached the proxy
}

func (l *delayLink) arm() { close(l.armed) }

// slowLink proxies to upstream, delaying every chunk by oneWay in each
// direction, in order.
func slowLink(t *testing.T, upstream string, oneWay time.Duration) *delayLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &delayLink{addr: ln.Addr().String(), armed: make(chan struct{}), sent: make(chan struct{}, 1)}
	t.Cleanup(func() { ln.Close() })
	pipe := func(dst, src net.Conn, notify bool) {
		type chunk struct {
			at   time.Time
			data []byte
		}
		ch := make(chan chunk, 1024)
		go func() {
			defer close(ch)
			buf := make([]byte, 64<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					ch <- chunk{time.Now().Add(oneWay), append([]byte(nil), buf[:n]...)}
					if notify {
						select {
						case <-l.armed:
							select {
							case l.sent <- struct{}{}:
							default:
							}
						default:
						}
					}
				}
				if err != nil {
					return
				}
			}
		}()
		for c := range ch {
			time.Sleep(time.Until(c.at)) // the link's latency
			if _, err := dst.Write(c.data); err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
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
