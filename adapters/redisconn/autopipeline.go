package redisconn

import (
	"github.com/redis/go-redis/v9"
)

// AutoPipelined returns the commands of client through go-redis's
// automatic pipelining (the blocking face, ordered): each call still waits
// for its own reply, within its context, but the commands that concurrent
// decisions issue meanwhile go out in one write and come back in one read,
// instead of a write and a read each. For the profile fetches of a busy
// replica that is a few times less CPU in the process and in Redis per
// fetch (BENCHMARKS.md, "Redis: the profile fetch auto-pipelined"); a lone
// fetch is sent at once. A client of another kind (a ring, a test double)
// is returned as it is, and so is client when the autopipeliner cannot be
// made.
//
// The autopipeliner is go-redis's (EXPERIMENTAL in v9.23); it shares the
// client's time limits and is closed with it.
func AutoPipelined(client redis.UniversalClient) redis.Cmdable {
	type autoPipeliner interface {
		AutoPipeline() (*redis.AutoPipeliner, error)
	}
	c, ok := client.(autoPipeliner)
	if !ok {
		return client
	}
	ap, err := c.AutoPipeline()
	if err != nil {
		return client
	}
	return ap
}
