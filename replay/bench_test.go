package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/wire"
)

var benchData struct {
	once  sync.Once
	lines []byte
	n     int
}

func benchLines(b *testing.B) ([]byte, int) {
	benchData.once.Do(func() {
		rs := exampleRules(b)
		data, sum := record(b, rs, replaygen.Options{Decisions: 20000, Customers: 5000, Seed: 3})
		benchData.lines, benchData.n = data, sum.Decisions
	})
	return benchData.lines, benchData.n
}

// BenchmarkReplay replays 20,000 recorded decisions of the example shop
// (and their outcomes) with the same rules, decode and decide pipelined.
func BenchmarkReplay(b *testing.B) {
	data, n := benchLines(b)
	rs := exampleRules(b)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := replay.Run(context.Background(), rs, linesOf(data, rs), replay.Options{})
		if err != nil || rep.Decisions.Replayed != int64(n) {
			b.Fatal(err, rep.Decisions)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/decision")
}

// BenchmarkDecode compares the decoder of replay's hot loop with
// encoding/json (wire.ParseDecisionEvent, reflection) on the same decision
// events.
func BenchmarkDecode(b *testing.B) {
	data, _ := benchLines(b)
	var events [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(line, []byte(`"type":"decision"`)) {
			events = append(events, line)
		}
		if len(events) == 1000 {
			break
		}
	}
	b.Run("fastjson", func(b *testing.B) {
		var dec replay.Decoder
		var ev replay.Event
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := dec.Decode(events[i%len(events)], &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var ev struct {
				wire.DecisionEvent
				Request json.RawMessage `json:"request"`
			}
			if err := json.Unmarshal(events[i%len(events)], &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
