package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

// redisStats reads INFO commandstats of the real Redis.
type redisStats struct {
	client *redis.Client
}

func newRedisStats(rawURL string) (*redisStats, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("-redis %s: %w", rawURL, err)
	}
	return &redisStats{client: redis.NewClient(opt)}, nil
}

func (r *redisStats) calls(ctx context.Context) (map[string]uint64, error) {
	info, err := r.client.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return loadgen.ParseCommandStats(info)
}

func (r *redisStats) close() { _ = r.client.Close() }

// cpu is the Redis server's own CPU time (INFO cpu), read the same
// whether it runs on this machine's process ids or in a container.
func (r *redisStats) cpu(ctx context.Context) (loadgen.CPUTime, error) {
	info, err := r.client.Info(ctx, "cpu").Result()
	if err != nil {
		return loadgen.CPUTime{}, fmt.Errorf("redis INFO cpu: %w", err)
	}
	return loadgen.ParseInfoCPU(info)
}

// deleteKeys deletes every key under prefix (SCAN, then UNLINK in batches).
func deleteKeys(ctx context.Context, rawURL, prefix string) (int, error) {
	if prefix == "" || !strings.HasPrefix(prefix, "bench:") {
		return 0, fmt.Errorf("refusing to delete keys under %q: not a bench prefix", prefix)
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return 0, err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	n := 0
	iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	batch := make([]string, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.Unlink(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

// streamStats is what the scenario's stream held when it was deleted.
type streamStats struct {
	Name         string
	Msgs, Bytes  uint64 // messages, and bytes as JetStream stores them (subject, headers and data)
	DecisionMsgs uint64 // of which decision events
}

// deleteStream deletes the JetStream stream holding subjectPrefix.> (the
// one Arbiter created for the scenario), if any, and the object store of
// the rulesets its servers kept (<STREAM>_RULESETS); it returns what the
// stream held.
func deleteStream(ctx context.Context, natsURL, subjectPrefix string) (streamStats, error) {
	var ss streamStats
	if !strings.HasPrefix(subjectPrefix, "bench_") {
		return ss, fmt.Errorf("refusing to delete the stream of %q: not a bench prefix", subjectPrefix)
	}
	nc, err := nats.Connect(natsURL, nats.Name("arbiter-bench"), nats.Timeout(5*time.Second))
	if err != nil {
		return ss, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return ss, err
	}
	name, err := js.StreamNameBySubject(ctx, subjectPrefix+".>")
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ss, nil
	}
	if err != nil {
		return ss, err
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		return ss, err
	}
	for _, subj := range st.CachedInfo().Config.Subjects {
		if !strings.HasPrefix(subj, subjectPrefix+".") {
			return ss, fmt.Errorf("stream %s also holds %q: not deleting it", name, subj)
		}
	}
	ss.Name = name
	if info, err := st.Info(ctx, jetstream.WithSubjectFilter(subjectPrefix+".decision.>")); err == nil {
		ss.Msgs, ss.Bytes = info.State.Msgs, info.State.Bytes
		for _, n := range info.State.Subjects {
			ss.DecisionMsgs += n
		}
	}
	if err := js.DeleteObjectStore(ctx, name+"_RULESETS"); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return ss, err
	}
	return ss, js.DeleteStream(ctx, name)
}
