package events

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/wire"
)

// benchPayload is a decision event's JSON of about the size scenario a
// publishes (1.3 kB: its request is most of it).
var benchPayload = []byte(`{"type":"decision","id":"dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V","ts":"2026-11-22T10:00:00Z","customer_id":"c-000123","placement":"checkout","ruleset":"abc","segments":["returning","high_value"],"experiments":[],"actions":[{"offer":"free_shipping","kind":"shipping","discount_minor":0}],"degraded":[],"request":` +
	`{"customer_id":"c-000123","placement":"checkout","channel":"web","cart":{"currency":"USD","items":[` +
	strings.Repeat(`{"sku":"SKU-12345","category":"shoes","unit_price":"129.99","quantity":1},`, 12) +
	`{"sku":"SKU-99999","category":"outerwear","unit_price":"249.99","quantity":1}]},"context":{"country":"US","device":"desktop"}}}`)

// cpuNanos is the process's user and system CPU time so far.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPublishEmbedded publishes b.N decision events of 1.3 kB, each
// with its own id, through a Publisher connected in process to an embedded
// server (the serve/demo set-up), and waits for JetStream to have
// acknowledged them all. Besides the allocations (every goroutine's: the
// server's included), it reports the process's CPU per event and the live
// heap per event left when they are stored (the duplicate window's table
// holds every id of the window), and, for the stream in memory, what of
// it the collector marks at every cycle (marked-B/event: the stored
// message's index entry and the id's in the table; the message's bytes
// hold no pointer and are not scanned).
func BenchmarkPublishEmbedded(b *testing.B) {
	for _, store := range []string{"sync", "async", "memory"} {
		b.Run(store+"/burst", func(b *testing.B) { benchPublishEmbedded(b, 0, store) })
		// paced: 10 events every millisecond, scenario a's 10,000 events/s at
		// half load: the server's reads come in small and varying sizes.
		b.Run(store+"/paced", func(b *testing.B) { benchPublishEmbedded(b, 10, store) })
	}
}

// benchPublishEmbedded publishes to a stream in files, written
// synchronously (store "sync") or not ("async"), or in memory ("memory",
// bounded at 64 MiB as serve's embedded stream by default).
func benchPublishEmbedded(b *testing.B, perMilli int, store string) {
	const streamMemory = 64 << 20
	eo := EmbeddedOptions{StoreDir: b.TempDir()}
	if store == "memory" {
		eo.MaxMemory = streamMemory
	}
	emb, err := StartEmbeddedWith(eo)
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Stop()
	ctx := context.Background()
	o := Options{Prefix: "bench", InProcess: emb, Duplicates: EmbeddedDuplicates, AsyncPersist: store == "async",
		Buffer: max(b.N+16, 1024), Logger: quietLogger()}
	if store == "memory" {
		o.Memory, o.MaxBytes = true, streamMemory
	}
	p, err := NewPublisher(ctx, emb.URL, o)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	msgs := warmUp(b, p)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	markedBefore := markedHeap()
	cpu := cpuNanos()
	b.ReportAllocs()
	b.ResetTimer()
	if perMilli <= 0 {
		for i := range msgs {
			p.Publish(&msgs[i])
		}
	} else {
		tick := time.NewTicker(time.Millisecond)
		for i := 0; i < len(msgs); i += perMilli {
			for j := i; j < min(i+perMilli, len(msgs)); j++ {
				p.Publish(&msgs[j])
			}
			<-tick.C
		}
		tick.Stop()
	}
	waitPublished(b, p, uint64(b.N)+1)
	b.StopTimer()
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/event")
	marked := int64(markedHeap()) - int64(markedBefore) // msgs alive in both
	msgs = nil
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "live-B/event")
	if store == "memory" {
		// The file store lets go of state with pointers as it writes its
		// blocks, so its difference says nothing of a stored event.
		b.ReportMetric(float64(marked)/float64(b.N), "marked-B/event")
	}
	if st := p.Stats(); st.Dropped != 0 {
		b.Fatalf("%d events dropped", st.Dropped)
	}
}

// markedHeap is the heap the collector scans at its next cycle (runtime
// metric /gc/scan/heap:bytes): the objects that hold pointers. A cycle's
// mark takes time in proportion to it (BENCHMARKS.md, issue 19, eleventh
// pass).
func markedHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkPublishCluster publishes b.N decision events of 1.3 kB in a
// burst to an R3 stream on a 3-node in-process cluster (every event asks
// for its acknowledgement there: clustered) and waits until all are
// acknowledged; cpu-ns/event is the whole process's, the three servers'
// included.
func BenchmarkPublishCluster(b *testing.B) {
	nodes := startClusterNodes(b, 3)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	ctx := context.Background()
	p, err := NewPublisher(ctx, strings.Join(urls, ","), Options{Prefix: "benchcluster", Replicas: 3,
		Buffer: max(b.N+16, 1024), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	msgs := warmUp(b, p)
	cpu := cpuNanos()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range msgs {
		p.Publish(&msgs[i])
	}
	waitPublished(b, p, uint64(b.N)+1)
	b.StopTimer()
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/event")
	if st := p.Stats(); st.Dropped != 0 || st.Resent != 0 {
		b.Fatalf("%d events dropped, %d resent", st.Dropped, st.Resent)
	}
}

// warmUp publishes one event, which sets the stream up, waits for it, and
// returns b.N decision events of benchPayload, each with its own id.
func warmUp(b *testing.B, p *Publisher) []wire.Message {
	b.Helper()
	p.Publish(&wire.Message{ID: "warm-up", Kind: "decision", Key: "checkout", JSON: benchPayload})
	waitPublished(b, p, 1)
	msgs := make([]wire.Message, b.N)
	for i := range msgs {
		msgs[i] = wire.Message{ID: "dcs_" + strconv.Itoa(1e9+i), Kind: "decision", Key: "checkout", JSON: benchPayload}
	}
	return msgs
}

func waitPublished(b *testing.B, p *Publisher, n uint64) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for p.Stats().Published < n {
		if time.Now().After(deadline) {
			b.Fatalf("published %d of %d events after 2 minutes", p.Stats().Published, n)
		}
		time.Sleep(200 * time.Microsecond) // polling interval, not synchronisation
	}
}
