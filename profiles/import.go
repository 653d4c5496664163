package profiles

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/rules"
)

// ImportOptions configure Import.
type ImportOptions struct {
	Prefix string        // key prefix, DefaultPrefix when ""
	Schema *rules.Schema // validate and normalise by it; nil stores values as given
	Merge  bool          // merge into stored profiles instead of replacing them
	Batch  int           // profiles per MULTI pipeline (default 500)
	// Progress, if set, is called after each batch is written.
	Progress func(imported, rejected int)
}

// Rejected is one input line Import did not store.
type Rejected struct {
	Line int    // 1-based
	Why  string // what is wrong
}

// ImportResult is what Import did.
type ImportResult struct {
	Imported int
	Rejected []Rejected
	Lines    int // lines read
}

// Import reads JSONL profiles (one JSON object per line with "id" and the
// fields; blank lines skipped) and writes them to their hashes in pipelined
// batches. Lines that are not valid profiles are rejected (returned, with
// why) and the rest stored; the error is for reading or Redis failures only,
// with the result so far.
func Import(ctx context.Context, client redis.UniversalClient, r io.Reader, o ImportOptions) (ImportResult, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	var res ImportResult
	type pending struct {
		line   int
		key    string
		fields map[string]string
	}
	buf := make([]pending, 0, o.Batch)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, b := range buf {
				if !o.Merge {
					p.Del(ctx, b.key)
				}
				p.HSet(ctx, b.key, hsetArgs(b.fields)...)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("writing the profiles of lines %d-%d: %w", buf[0].line, buf[len(buf)-1].line, err)
		}
		res.Imported += len(buf)
		buf = buf[:0]
		if o.Progress != nil {
			o.Progress(res.Imported, len(res.Rejected))
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		res.Lines++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		id, fields, err := lineToHash(text, o.Schema)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{Line: res.Lines, Why: err.Error()})
			continue
		}
		buf = append(buf, pending{line: res.Lines, key: ProfileKey(o.Prefix, id), fields: fields})
		if len(buf) >= o.Batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("interrupted at line %d: %w", res.Lines, err)
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("reading line %d: %w", res.Lines+1, err)
	}
	return res, flush()
}

// Put stores one profile in its JSON form (as Import does one line).
func Put(ctx context.Context, client redis.UniversalClient, prefix string, schema *rules.Schema, m map[string]any) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	id, fields, err := ToHash(schema, m)
	if err != nil {
		return err
	}
	key := ProfileKey(prefix, id)
	_, err = client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, hsetArgs(fields)...)
		return nil
	})
	return err
}

// KnownMarker is the field written for a profile with no fields, so that the
// hash exists and the customer counts as known; decoding ignores it.
const KnownMarker = "_known"

func hsetArgs(fields map[string]string) []any {
	if len(fields) == 0 {
		return []any{KnownMarker, "true"}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, fields[k])
	}
	return args
}

func lineToHash(text []byte, schema *rules.Schema) (string, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return "", nil, fmt.Errorf("more than one JSON value on the line")
	}
	return ToHash(schema, m)
}
