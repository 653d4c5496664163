package expcounters

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

// BenchmarkRecord counts the generated stream (decisions and conversions)
// from its messages' bytes, each event new: one script call per event
// with encoding/json (the consumer before batches) against batches of N
// events with ParseDecision, per event. Against miniredis, or the real
// Redis with ARBITER_TEST_REDIS_URL (then also the Redis commands per
// event and the scripts' time, from INFO commandstats: the server's, so
// others' commands count too on a shared server). cpu-ns/event is this
// process's CPU time (miniredis's included), steadier than the time on a
// loaded machine.
func BenchmarkRecord(b *testing.B) {
	msgs := generatedMessages(b, 1)
	run := func(b *testing.B, count func(ctx context.Context, c *Counters, batch []message) error, n int) {
		client, prefix, real := redistest.Client(b)
		c := New(client, prefix)
		ctx := context.Background()
		batch := make([]message, 0, n)
		seq := uint64(0)
		calls0, usec0 := commandCalls(b, client, real)
		b.ReportAllocs()
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m := msgs[i%len(msgs)]
			seq++
			m.seq = seq
			batch = append(batch, m)
			if len(batch) == n || i == b.N-1 {
				if err := count(ctx, c, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		b.StopTimer()
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/event")
		if real {
			calls, usec := commandCalls(b, client, real)
			b.ReportMetric(float64(calls-calls0)/float64(b.N), "redis-cmds/event")
			b.ReportMetric(float64(usec-usec0)*1000/float64(b.N), "redis-script-ns/event")
		}
	}
	b.Run("one_by_one", func(b *testing.B) {
		run(b, func(ctx context.Context, c *Counters, batch []message) error {
			for _, m := range batch {
				if _, err := recordOneByOne(ctx, c, oldEvent(b, m)); err != nil {
					return err
				}
			}
			return nil
		}, 1)
	})
	for _, n := range []int{1, 16, 64, 256, 1024, 4096} {
		b.Run("batch_"+strconv.Itoa(n), func(b *testing.B) {
			evs := make([]Event, 0, n)
			run(b, func(ctx context.Context, c *Counters, batch []message) error {
				evs = evs[:0]
				for _, m := range batch {
					evs = append(evs, newEvent(b, m))
				}
				_, err := c.RecordBatch(ctx, evs)
				return err
			}, n)
		})
	}
	// RecordOnce (Published's): a key per batch instead of seen bits.
	for _, n := range []int{1024, 4096} {
		b.Run("once_"+strconv.Itoa(n), func(b *testing.B) {
			evs := make([]Event, 0, n)
			calls := 0
			run(b, func(ctx context.Context, c *Counters, batch []message) error {
				evs = evs[:0]
				for _, m := range batch {
					evs = append(evs, newEvent(b, m))
				}
				calls++
				_, err := c.RecordOnce(ctx, "bench:"+strconv.Itoa(calls), evs)
				return err
			}, n)
		})
	}
}

// commandCalls is the number of commands the Redis server has run (INFO
// commandstats, but INFO itself) and the microseconds its scripts took
// (EVAL and EVALSHA, the commands they call included), 0 on miniredis.
func commandCalls(b *testing.B, client redis.UniversalClient, real bool) (n, scriptUsec int64) {
	if !real {
		return 0, 0
	}
	info, err := client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || name == "cmdstat_info" {
			continue
		}
		v, rest, _ := strings.Cut(rest, ",")
		k, _ := strconv.ParseInt(v, 10, 64)
		n += k
		if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
			_, u, _ := strings.Cut(rest, "usec=")
			u, _, _ = strings.Cut(u, ",")
			us, _ := strconv.ParseInt(u, 10, 64)
			scriptUsec += us
		}
	}
	return n, scriptUsec
}
