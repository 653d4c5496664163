package main

import (
	"bytes"
	"io"
	"runtime"
	"runtime/trace"
	"testing"

	xtrace "golang.org/x/exp/trace"
)

// heapForMarks is a heap of many pointers, so that a collection's mark
// takes tens of milliseconds: long enough for a trace to start or stop in
// it.
var heapForMarks []*[4]*int

// markEvents are the kinds of the mark's range events in a trace, in order.
func markEvents(t *testing.T, data []byte) []string {
	t.Helper()
	rd, err := xtrace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		ev, err := rd.ReadEvent()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind() {
		case xtrace.EventRangeActive, xtrace.EventRangeBegin, xtrace.EventRangeEnd:
			if ev.Range().Name == markRange {
				out = append(out, ev.Kind().String())
			}
		}
	}
}

// TestReadKeepsTheMarksAtTheTracesEdges: a mark under way when the trace
// began (the reader gives it as RangeActive, not RangeBegin) or when it
// ended (no RangeEnd) is a mark. Both were dropped, and the requests in
// them counted as outside the marks: -trace captures the open loop from a
// moment that has nothing to do with the collector's.
func TestReadKeepsTheMarksAtTheTracesEdges(t *testing.T) {
	heapForMarks = make([]*[4]*int, 3_000_000)
	for i := range heapForMarks {
		heapForMarks[i] = new([4]*int)
	}
	defer func() { heapForMarks = nil }()
	runtime.GC()
	collect := func() chan struct{} {
		done := make(chan struct{})
		go func() {
			runtime.GC()
			close(done)
		}()
		runtime.Gosched() // let the collection start (the trace's shape is checked below)
		return done
	}
	tests := []struct {
		name  string
		trace func(w io.Writer) error
		want  string // the mark's events in the trace
	}{
		{"begun in a mark", func(w io.Writer) error {
			done := collect()
			if err := trace.Start(w); err != nil {
				return err
			}
			<-done
			trace.Stop()
			return nil
		}, "[RangeActive RangeEnd]"},
		{"ended in a mark", func(w io.Writer) error {
			if err := trace.Start(w); err != nil {
				return err
			}
			done := collect()
			trace.Stop()
			<-done
			return nil
		}, "[RangeBegin]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The collection is started from another goroutine, and
			// whether it is under way at the trace's edge depends on the
			// scheduler: up to ten tries for a trace of the wanted shape.
			var buf bytes.Buffer
			got := ""
			for try := 0; try < 10 && got != tt.want; try++ {
				buf.Reset()
				if err := tt.trace(&buf); err != nil {
					t.Fatal(err)
				}
				got = fmtKinds(markEvents(t, buf.Bytes()))
			}
			if got != tt.want {
				t.Fatalf("the trace's mark events are %s, want %s: the set-up did not catch the collection in ten tries", got, tt.want)
			}
			st, err := Read(bytes.NewReader(buf.Bytes()), "fasthttp", 2e6)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Marks) != 1 {
				t.Fatalf("%d marks read, want the 1 under way at the trace's edge", len(st.Marks))
			}
			if m := st.Marks[0]; m[1] <= m[0] {
				t.Errorf("mark from %d to %d: want a positive length", m[0], m[1])
			}
		})
	}
}

func fmtKinds(ks []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
	}
	b.WriteByte(']')
	return b.String()
}
