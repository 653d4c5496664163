package expcounters

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/wire"
)

var consumeBench struct {
	once      sync.Once
	subjects  []string
	data      [][]byte
	exposures []string // a decision's wire.ExposureHeader, as the publisher sets it
	err       error
}

// allAcknowledged says whether the stream has consumers and each has
// delivered and acknowledged all it matches.
func allAcknowledged(ctx context.Context, js jetstream.JetStream, stream string) bool {
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return false
	}
	n, done := 0, true
	for info := range str.ListConsumers(ctx).Info() { // read to the end: the lister sends them all
		n++
		done = done && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0
	}
	return n > 0 && done
}

// BenchmarkConsume runs the consumer over a stream of 10,000 events of the
// example shop (decisions with their requests, conversions, dismissals
// the filter leaves out) on an embedded NATS server reached in process
// and miniredis (or the real Redis with ARBITER_TEST_REDIS_URL), as the
// embedded server mode does: from the start until every event is
// acknowledged. The decisions carry their wire.ExposureHeader, as the
// publisher sends them; the consumers are a fleet's (not SingleReader). cpu-ns/event is the process's CPU time (NATS server,
// client, miniredis) per event.
func BenchmarkConsume(b *testing.B) {
	consumeBench.once.Do(func() {
		sub, err := fs.Sub(examples.Checkout, "checkout")
		if err != nil {
			consumeBench.err = err
			return
		}
		rs, err := rulefiles.LoadFS(sub)
		if err != nil {
			consumeBench.err = err
			return
		}
		_, consumeBench.err = replaygen.Generate(context.Background(), rs, replaygen.Options{Decisions: 9000, Customers: 3000, Seed: 11},
			func(line []byte) error {
				subject := "decision.checkout"
				switch {
				case bytes.Contains(line, []byte(`"outcome":"converted"`)):
					subject = "outcome.converted"
				case bytes.Contains(line, []byte(`"outcome":"dismissed"`)):
					subject = "outcome.dismissed"
				}
				consumeBench.subjects = append(consumeBench.subjects, subject)
				consumeBench.data = append(consumeBench.data, append([]byte(nil), line...))
				return nil
			})
	})
	if consumeBench.err != nil {
		b.Fatal(consumeBench.err)
	}
	if consumeBench.exposures == nil {
		for i, data := range consumeBench.data {
			e := ""
			if consumeBench.subjects[i] == "decision.checkout" {
				e = exposureOf(b, data)
			}
			consumeBench.exposures = append(consumeBench.exposures, e)
		}
	}
	const n = 10000
	srv, err := events.StartEmbedded(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	nc, err := nats.Connect(srv.URL, nats.InProcessServer(srv))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	client, keyPrefix, _ := redistest.Client(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		rnd := make([]byte, 4)
		_, _ = rand.Read(rnd)
		opts := events.Options{Prefix: "xcbench_" + hex.EncodeToString(rnd), InProcess: srv}
		ctx := context.Background()
		if err := events.EnsureStream(ctx, js, opts, quiet); err != nil {
			b.Fatal(err)
		}
		var futs []jetstream.PubAckFuture
		for k := 0; k < n; k++ {
			j := k % len(consumeBench.data)
			m := nats.NewMsg(opts.Prefix + "." + consumeBench.subjects[j])
			m.Data = consumeBench.data[j]
			if e := consumeBench.exposures[j]; e != "" {
				m.Header.Set(wire.ExposureHeader, e)
			}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futs = append(futs, f)
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
		c := New(client, keyPrefix+opts.Prefix+":")
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		b.StartTimer()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- Consume(cctx, srv.URL, opts, c, quiet) }()
		stream := events.StreamName(opts.Prefix)
		for !allAcknowledged(ctx, js, stream) {
			time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu += time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		_ = js.DeleteStream(ctx, stream)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/event")
}
