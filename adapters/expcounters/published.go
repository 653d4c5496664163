package expcounters

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arbiterhq/arbiter/wire"
)

// Published counts the decisions of a process whose NATS server and Redis
// are both in the process (serve without --nats and --redis: the demo, a
// shop's single box): its publisher hands over each decision event the
// stream acknowledged having stored (events.Options.Stored), and Count
// counts them in batches, as the consumer would have counted them had it
// read them back from the stream. Reading them back made the in-process
// server copy every event to the consumer, and the client decode it:
// about a fifth of scenario a's CPU and a third of what it allocated
// (BENCHMARKS.md, issue 19). The consumer then counts the outcomes only
// (Counters.DecisionsPublished).
//
// An event counts once: the publisher hands it over once, when its
// acknowledgement pops it, and Count numbers the events it is handed
// under an identity of its own (published@<start>) and counts each batch
// under a key of the identity and its first number (Counters.RecordOnce),
// which a retried script call finds. Decisions another process publishes
// to the embedded server's stream are not counted: that server is this
// process's own. At most MaxPending decisions wait to be counted; beyond,
// a decision is not counted, and Dropped says how many.
type Published struct {
	mu      sync.Mutex
	pending []byte // the exposures waiting, back to back
	ends    []int  // where each ends in pending
	wake    chan struct{}
	dropped atomic.Uint64
	// spare is the buffer Count gave back, for the next swap.
	spare     []byte
	spareEnds []int
}

// MaxPending bounds the decisions waiting for Count.
const MaxPending = 1 << 16

// Count's batches: everything waiting PublishedWait after the first, in
// batches of up to PublishedBatch. They are larger than the consumer's
// (MaxWait, MaxBatch) because the embedded Redis runs the script in
// gopher-lua, where a call's own cost dwarfs its events': a fresh Lua
// state and, for each redis.call, a connection's buffers; with the seen
// bits (RecordBatch), a copy of a 128 KiB bitmap too: about 0.5 MB a call
// with the example's experiments. At a call every 20 ms that was a quarter
// of everything scenario a allocated (BENCHMARKS.md, issue 19); the live
// counters lag by at most PublishedWait more.
const (
	PublishedWait  = 250 * time.Millisecond
	PublishedBatch = 4096
)

// NewPublished returns an empty feed.
func NewPublished() *Published { return &Published{wake: make(chan struct{}, 1)} }

// Stored is an events.Options.Stored: it keeps a copy of a stored decision
// event's exposure (wire.ExposureHeader's value; its JSON when it has
// none) for Count, and ignores any other event. It never blocks on Count.
func (f *Published) Stored(e *wire.Message) {
	if e.Kind != wire.KindDecision {
		return
	}
	f.mu.Lock()
	if len(f.ends) >= MaxPending {
		f.mu.Unlock()
		f.dropped.Add(1)
		return
	}
	if e.Exposure != "" {
		f.pending = append(f.pending, e.Exposure...)
	} else {
		f.pending = append(f.pending, e.JSON...)
	}
	f.ends = append(f.ends, len(f.pending))
	first := len(f.ends) == 1
	f.mu.Unlock()
	if first {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// Dropped is how many decisions were not counted because MaxPending were
// waiting.
func (f *Published) Dropped() uint64 { return f.dropped.Load() }

// take returns the decisions waiting and leaves the feed empty.
func (f *Published) take() ([]byte, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ends := f.pending, f.ends
	f.pending, f.ends = f.spare[:0], f.spareEnds[:0]
	f.spare, f.spareEnds = nil, nil
	return data, ends
}

// giveBack returns take's buffers for reuse.
func (f *Published) giveBack(data []byte, ends []int) {
	f.mu.Lock()
	f.spare, f.spareEnds = data[:0], ends[:0]
	f.mu.Unlock()
}

// Count counts the decisions handed to Stored into c until ctx is done
// (then it returns): PublishedWait after the first one waiting, every one
// waiting then, in batches of up to PublishedBatch (Counters.RecordOnce).
// A decision whose exposure does not parse is not counted. A batch whose
// call fails is counted again, 20 ms later and then twice as late each
// time up to 2 s, until it counts or ctx is done (its batch key counts it
// once, even when a call that timed out had counted it); the decisions
// arriving meanwhile wait (up to MaxPending). Give c a client whose
// timeout is meant for a batch, not for a decision (serve gives it 5 s):
// a script call counting a thousand decisions in the embedded Redis's Lua
// takes milliseconds. Decisions still waiting when ctx is done are not
// counted: they would be counted in the embedded Redis, which stops with
// the process.
func (f *Published) Count(ctx context.Context, c *Counters, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	log := logger.With("component", "experiment counters")
	identity := "published@" + strconv.FormatInt(time.Now().UnixNano(), 36)
	log.Info("experiment counters: counting the decisions this process publishes", "identity", identity)
	var (
		seq     uint64
		evs     = make([]Event, 0, PublishedBatch)
		decs    = make([]wire.DecisionEvent, PublishedBatch) // evs' decisions, reused
		dropped uint64
		wait    = time.NewTimer(PublishedWait)
	)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		wait.Reset(PublishedWait)
		select {
		case <-ctx.Done():
			return
		case <-wait.C: // batch: what arrives within PublishedWait of the first
		}
		data, all := f.take()
		now := time.Now()
		start := 0
		for ends := all; len(ends) > 0 && ctx.Err() == nil; {
			part := ends[:min(len(ends), PublishedBatch)]
			ends = ends[len(part):]
			evs = evs[:0]
			for i, end := range part {
				dec := &decs[i]
				err := ParseDecisionInto(dec, data[start:end])
				start = end
				if err != nil {
					log.Debug("experiment counters: a published decision's exposure does not parse", "err", err)
					continue
				}
				seq++
				evs = append(evs, Event{Stream: identity, Sequence: seq, Stored: now, Decision: dec})
			}
			if len(evs) > 0 {
				record(ctx, c, identity+":"+strconv.FormatUint(evs[0].Sequence, 10), evs, log)
			}
			clear(evs)
			clear(decs) // the strings of this batch's decisions are not kept
		}
		f.giveBack(data, all)
		if d := f.Dropped(); d > dropped {
			log.Warn("experiment counters: decisions not counted: too many were waiting", "not_counted", d-dropped, "max_pending", MaxPending)
			dropped = d
		}
	}
}

// record counts evs in c as the batch key, making the call again after a
// failure until it counts or ctx is done.
func record(ctx context.Context, c *Counters, key string, evs []Event, log *slog.Logger) {
	pause := 20 * time.Millisecond
	for failures := 0; ; failures++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.RecordOnce(rctx, key, evs)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		if failures == 0 || pause >= time.Second {
			log.Warn("experiment counters: cannot count; retrying", "err", err, "decisions", len(evs), "pause", pause)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause): // retry pause, not synchronisation
		}
		pause = min(2*pause, 2*time.Second)
	}
}
