package redisconn

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// AutoPipelined returns the commands of client through go-redis's
// automatic pipelining (its deferred face, ordered, behind Deadlined): each
// call still waits for its own reply, within its context, but the commands that concurrent
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
// with it. go-redis does not honour the context of a command once it is
// queued: HGETALL, EVAL and EVALSHA, the decision path's commands, are
// waited for here within the caller's context (a Deadlined), so that a hung
// Redis costs a decision its deadline, not the connection's read timeout
// (twice --redis-timeout or more).
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
		AsyncAutoPipelineWithOptions(*redis.AutoPipelineOptions) (*redis.AutoPipeliner, error)
	}
	c, ok := client.(autoPipeliner)
	if !ok {
		return client
	}
	o := AutoPipelineOptions()
	if mode == HalfDuplex {
		o.FullDuplex = false
	}
	ap, err := c.AsyncAutoPipelineWithOptions(o)
	if err != nil {
		return client
	}
	return Deadlined{ap}
}

// Deadlined is go-redis's deferred autopipeliner (AsyncAutoPipeline) whose
// HGetAll, Eval and EvalSha wait for their reply only as long as the
// caller's context lasts: past it they return a command holding the
// context's error, while the command sent, if it was, is answered later
// and dropped. Its other commands are the deferred face's (their results
// wait for the reply, whatever the context).
type Deadlined struct {
	*redis.AutoPipeliner
}

// HGetAll is HGETALL, within ctx.
func (d Deadlined) HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd {
	cmd := redis.NewMapStringStringCmd(ctx, "hgetall", key)
	if err := d.await(ctx, cmd); err != nil {
		cmd = redis.NewMapStringStringCmd(ctx, "hgetall", key)
		cmd.SetErr(err)
	}
	return cmd
}

// Eval is EVAL, within ctx.
func (d Deadlined) Eval(ctx context.Context, script string, keys []string, args ...interface{}) *redis.Cmd {
	return d.eval(ctx, "eval", script, keys, args)
}

// EvalSha is EVALSHA, within ctx.
func (d Deadlined) EvalSha(ctx context.Context, sha1 string, keys []string, args ...interface{}) *redis.Cmd {
	return d.eval(ctx, "evalsha", sha1, keys, args)
}

// eval builds the command as go-redis does (its arguments flat: a single
// argument that is a slice or a map is left to go-redis, which spreads it,
// and is then waited for without the context).
func (d Deadlined) eval(ctx context.Context, name, payload string, keys []string, args []interface{}) *redis.Cmd {
	if len(args) == 1 {
		switch args[0].(type) {
		case string, int, int64, float64, bool, []byte, nil:
		default:
			if name == "eval" {
				return d.AutoPipeliner.Eval(ctx, payload, keys, args...)
			}
			return d.AutoPipeliner.EvalSha(ctx, payload, keys, args...)
		}
	}
	cmdArgs := make([]interface{}, 3+len(keys), 3+len(keys)+len(args))
	cmdArgs[0], cmdArgs[1], cmdArgs[2] = name, payload, len(keys)
	for i, k := range keys {
		cmdArgs[3+i] = k
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3)
	}
	if err := d.await(ctx, cmd); err != nil {
		cmd = redis.NewCmd(ctx, cmdArgs...)
		cmd.SetErr(err)
	}
	return cmd
}

// await queues cmd and waits for its reply within ctx. A non-nil error is
// the context's: cmd must then not be read (its reply may still come), and
// the caller answers a fresh command holding the error. nil: cmd holds its
// reply or its own error.
func (d Deadlined) await(ctx context.Context, cmd redis.Cmder) error {
	err := d.Submit(ctx, cmd).WaitContext(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return nil // cmd holds its reply or its own error
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
