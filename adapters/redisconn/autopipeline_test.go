package redisconn

import (
	"context"
	"fmt"
	"net"
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
	if _, ok := ap.(*redis.AutoPipeliner); !ok {
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
		ap, ok := AutoPipelinedMode(client, c.mode).(*redis.AutoPipeliner)
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
