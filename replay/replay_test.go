package replay_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"iter"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/examples"
	"github.com/arbiterhq/arbiter/replay"
	"github.com/arbiterhq/arbiter/replay/replaygen"
	"github.com/arbiterhq/arbiter/rules"
)

func exampleRules(t testing.TB) *rules.Ruleset {
	t.Helper()
	sub, err := fs.Sub(examples.Checkout, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulefiles.LoadFS(sub)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// record serves generated traffic with rs and returns its events as JSON
// lines.
func record(t testing.TB, rs *rules.Ruleset, o replaygen.Options) ([]byte, *replaygen.Summary) {
	t.Helper()
	var out bytes.Buffer
	sum, err := replaygen.Generate(context.Background(), rs, o, func(line []byte) error {
		out.Write(line)
		out.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), sum
}

// linesOf is a Pipeline over the lines of data.
func linesOf(data []byte, rss ...*rules.Ruleset) iter.Seq2[*replay.Event, error] {
	rest := data
	return replay.Pipeline(context.Background(), func() ([]byte, error) {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			line := rest
			rest = nil
			return line, nil
		}
		line := rest[:i]
		rest = rest[i+1:]
		return line, nil
	}, rss...)
}

func run(t testing.TB, rs *rules.Ruleset, data []byte, o replay.Options) *replay.Report {
	t.Helper()
	rep, err := replay.Run(context.Background(), rs, linesOf(data, rs, o.Baseline), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
