package replay

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/arbiterhq/arbiter/rules"
)

// batchSize is the number of events decoded together before they are
// handed to the replay.
const batchSize = 256

type batch struct {
	evs  []Event
	n    int
	err  error
	line int64
}

// Pipeline decodes events in a goroutine of its own while the replay
// decides the ones before (two stages on two cores). next returns the JSON
// of the next event, io.EOF at the end; its bytes may be reused after the
// next call. Lines that are empty are skipped; a line that does not decode
// ends the iteration with an error naming its number. Each *Event yielded
// is valid until the next one is asked for; the batches' memory is reused,
// so memory stays flat however many events there are.
//
// With rulesets (the candidate, and the baseline if any), the decode stage
// also decodes each decision's request and builds its profile for them,
// so that the replay's stage only decides.
func Pipeline(ctx context.Context, next func() ([]byte, error), rulesets ...*rules.Ruleset) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		full := make(chan *batch, 4)
		free := make(chan *batch, 6)
		for i := 0; i < 6; i++ {
			free <- &batch{evs: make([]Event, batchSize)}
		}
		go func() {
			defer close(full)
			var dec Decoder
			var line int64
			for {
				var b *batch
				select {
				case b = <-free:
				case <-ctx.Done():
					return
				}
				b.n, b.err = 0, nil
				for b.n < batchSize {
					data, err := next()
					if err == io.EOF {
						break
					}
					line++
					if err != nil {
						b.err = err
						break
					}
					if len(trimSpace(data)) == 0 {
						continue
					}
					if err := dec.Decode(data, &b.evs[b.n]); err != nil {
						b.err = fmt.Errorf("line %d: %w", line, err)
						break
					}
					if len(rulesets) > 0 {
						prepare(&b.evs[b.n], rulesets)
					}
					b.n++
				}
				last := b.err != nil || b.n < batchSize
				select {
				case full <- b:
				case <-ctx.Done():
					return
				}
				if last {
					return
				}
			}
		}()
		for b := range full {
			for i := 0; i < b.n; i++ {
				if !yield(&b.evs[i], nil) {
					return
				}
			}
			if b.err != nil {
				yield(nil, b.err)
				return
			}
			free <- b
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}
