package redisconn

import (
	"context"
	"fmt"
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
