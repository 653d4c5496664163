package main

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/bench/loadgen"
)

// fakeRedis is a Redis server's counters, moved by the test.
type fakeRedis struct {
	commands map[string]uint64
	used     time.Duration
}

func (f *fakeRedis) calls(context.Context) (map[string]uint64, error) {
	return maps.Clone(f.commands), nil
}

func (f *fakeRedis) cpu(context.Context) (loadgen.CPUTime, error) {
	return loadgen.CPUTime{User: f.used}, nil
}

// TestArbiterRoundBillsTheWorkLeftBehind: the work a round's decisions
// leave behind (events still counted after the load stops) is billed to
// the round in Arbiter's CPU and in the Redis server's commands and CPU
// alike. The Redis figures of b and d were read before the wait for that
// work, so the counters' scripts it ran went into no figure, while
// Arbiter's CPU to send them was billed.
func TestArbiterRoundBillsTheWorkLeftBehind(t *testing.T) {
	redis := &fakeRedis{commands: map[string]uint64{"info": 5}}
	// Arbiter's CPU: 2 s by the end of the load, then 1 s more of work
	// left behind, in which Redis runs the counters' script 20 times;
	// then quiet.
	var arbiter time.Duration
	reads := 0
	server := func() (loadgen.CPUTime, error) {
		reads++
		if reads == 4 { // the wait's first poll: the work left behind ran
			arbiter += time.Second
			redis.commands["evalsha"] += 20
			redis.used += 30 * time.Millisecond
		}
		return loadgen.CPUTime{User: arbiter}, nil
	}
	cost, err := arbiterRound(context.Background(), server, redis, func() loadgen.Result {
		arbiter += 2 * time.Second
		redis.commands["hgetall"] += 1000
		redis.commands["evalsha"] += 500
		redis.used += 400 * time.Millisecond
		return loadgen.Result{OK: 1000}
	})
	if err != nil {
		t.Fatal(err)
	}
	if cost.cpu != 3*time.Second {
		t.Errorf("Arbiter's CPU = %s, want 3s (the round and the work it left behind)", cost.cpu)
	}
	if want := map[string]uint64{"hgetall": 1000, "evalsha": 520}; !maps.Equal(cost.redisCommands, want) {
		t.Errorf("Redis commands = %v, want %v (the round's and those of the work it left behind)", cost.redisCommands, want)
	}
	if cost.redisCPUErr != nil || cost.redisCPU != 430*time.Millisecond {
		t.Errorf("Redis CPU = %s (%v), want 430ms (the round's and that of the work it left behind)", cost.redisCPU, cost.redisCPUErr)
	}
}

// TestRedisStatsCPU reads a real Redis server's CPU time from INFO cpu:
// the server's own count, right also when Redis runs in a container whose
// process_id names no process of this machine (or another one).
func TestRedisStatsCPU(t *testing.T) {
	srv := redistest.StartServer(t)
	rs, err := newRedisStats("redis://" + srv.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.close()
	ctx := context.Background()
	before, err := rs.cpu(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if err := rs.client.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := rs.cpu(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if used := after.Sub(before).Total(); used <= 0 {
		t.Errorf("Redis CPU over 2,000 commands = %s, want more than nothing (before %+v, after %+v)", used, before, after)
	}
}
