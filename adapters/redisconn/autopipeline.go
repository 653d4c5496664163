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
// The autopipeliner is go-redis's (EXPERIMENTAL in v9.23), full duplex
// (AutoPipelineOptions); it shares the client's time limits and is closed
// with it.
func AutoPipelined(client redis.UniversalClient) redis.Cmdable {
	return AutoPipelinedMode(client, FullDuplex)
}

// The modes of AutoPipelinedMode.
const (
	FullDuplex = "full-duplex"
	HalfDuplex = "half-duplex"
)

// AutoPipelinedMode is AutoPipelined in mode FullDuplex or HalfDuplex
// (go-redis's default; any other mode is taken as FullDuplex). go-redis
// makes one autopipeliner a client: the first call's mode is the client's.
func AutoPipelinedMode(client redis.UniversalClient, mode string) redis.Cmdable {
	type autoPipeliner interface {
		AutoPipelineWithOptions(*redis.AutoPipelineOptions) (*redis.AutoPipeliner, error)
	}
	c, ok := client.(autoPipeliner)
	if !ok {
		return client
	}
	o := AutoPipelineOptions()
	if mode == HalfDuplex {
		o.FullDuplex = false
	}
	ap, err := c.AutoPipelineWithOptions(o)
	if err != nil {
		return client
	}
	return ap
}

// AutoPipelineOptions are the options of AutoPipelined: go-redis's for the
// blocking face, full duplex. The default (half duplex) writes one batch
// and reads its replies before it writes the next, and a command that
// comes while a batch is out waits, to join the next batch, up to three
// "silence gaps" of 0.2-2 ms each: in scenario b (each decision a profile
// fetch and a ledger script, open-loop arrivals at 4,000 a second) that
// made a decision's median 2.1 ms in the server, against 0.74-0.77 ms full
// duplex, where one held connection is written and read at once and a
// command goes out as it comes (BENCHMARKS.md, issue 19, fourth pass). It
// keeps the order of the commands, which the ledger's undo relies on.
// Under full duplex a process hook that returns without calling next does
// not stop the command from being sent: none of Arbiter's does.
func AutoPipelineOptions() *redis.AutoPipelineOptions {
	o := redis.DefaultBlockingAutoPipelineOptions()
	o.FullDuplex = true
	return o
}
