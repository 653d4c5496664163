package profilestore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

// ImportOptions configure Import.
type ImportOptions struct {
	Prefix string        // key prefix, DefaultPrefix when ""
	Schema *rules.Schema // validate and normalise by it; nil stores values as given
	Merge  bool          // merge into stored profiles instead of replacing them
	Batch  int           // profiles per MULTI pipeline (default 500)
	// AllowExtra stores a line with fields the schema does not declare
	// (without them), reporting them in ImportResult.Extra; without it
	// such a line is rejected (a misspelt field would read as its
	// default).
	AllowExtra bool
	// Progress, if set, is called after each batch is written.
	Progress func(imported, rejected int)
	// Local, when set, is a Redis in this process (serve's embedded
	// miniredis, before it serves): Import writes through its own API
	// instead of the client, and every profile shares one string for each
	// field name and for each repeated short value (LocalInternMax). Read
	// from the wire, each would be a string of its own: in scenario a,
	// 10,000 profiles so were four in ten of the process's heap objects,
	// which every garbage collection marks (BENCHMARKS.md, issue 19).
	Local LocalRedis
}

// LocalRedis is what Import writes to a Redis in this process:
// *miniredis.Miniredis has it. Del and HSet are not one transaction: give
// it a Redis nothing else writes to meanwhile.
type LocalRedis interface {
	Del(key string) bool
	HSet(key string, fieldsAndValues ...string)
}

// LocalInternMax: with ImportOptions.Local, values of at most this many
// bytes are shared between profiles (tiers, countries, flags, counts);
// longer ones (names, times) are stored as read. At most
// localInternEntries distinct strings are shared.
const (
	LocalInternMax     = 16
	localInternEntries = 1 << 16
)

// maxLine is the longest JSONL line Import reads.
const maxLine = 16 << 20

// Rejected is one input line Import did not store.
type Rejected struct {
	Line int    // 1-based
	Why  string // what is wrong
}

// ImportResult is what Import did.
type ImportResult struct {
	Imported int
	Rejected []Rejected
	// Extra lists, with AllowExtra, the stored lines that had fields the
	// schema does not declare (dropped), and which.
	Extra []Rejected
	Lines int // lines read
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
	var interned interner
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		var err error
		if o.Local != nil {
			for _, b := range buf {
				if !o.Merge {
					o.Local.Del(b.key)
				}
				o.Local.HSet(b.key, interned.args(b.fields)...)
			}
		} else {
			_, err = client.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, b := range buf {
					if !o.Merge {
						p.Del(ctx, b.key)
					}
					p.HSet(ctx, b.key, hsetArgs(b.fields)...)
				}
				return nil
			})
		}
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
	sc.Buffer(make([]byte, 64*1024), maxLine)
	for sc.Scan() {
		res.Lines++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		id, fields, extra, err := profiles.LineToHashExtra(o.Schema, text)
		if err == nil && len(extra) > 0 {
			if !o.AllowExtra {
				err = extra
			} else {
				res.Extra = append(res.Extra, Rejected{Line: res.Lines, Why: extra.Error()})
			}
		}
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
		if errors.Is(err, bufio.ErrTooLong) {
			return res, fmt.Errorf("line %d is longer than %d MiB: %w", res.Lines+1, maxLine>>20, err)
		}
		return res, fmt.Errorf("reading line %d: %w", res.Lines+1, err)
	}
	return res, flush()
}

// Put stores one profile in its JSON form (as Import does one line).
func Put(ctx context.Context, client redis.UniversalClient, prefix string, schema *rules.Schema, m map[string]any) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	id, fields, err := profiles.ToHash(schema, m)
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

// interner shares the strings of the profiles Import writes to a Local
// Redis.
type interner map[string]string

func (in *interner) intern(s string) string {
	if t, ok := (*in)[s]; ok {
		return t
	}
	if *in == nil {
		*in = make(interner)
	}
	if len(*in) < localInternEntries {
		(*in)[s] = s
	}
	return s
}

// args are hsetArgs for a Local Redis: field names shared, and short
// values.
func (in *interner) args(fields map[string]string) []string {
	pairs := hashPairs(fields)
	for i, s := range pairs {
		if i%2 == 0 || len(s) <= LocalInternMax {
			pairs[i] = in.intern(s)
		}
	}
	return pairs
}

// hsetArgs are the HSET arguments of a profile's fields, in name order; a
// profile without fields is stored as profiles.KnownMarker.
func hsetArgs(fields map[string]string) []any {
	pairs := hashPairs(fields)
	args := make([]any, len(pairs))
	for i, s := range pairs {
		args[i] = s
	}
	return args
}

// hashPairs are a profile's fields and values, by field: the known marker
// alone for a profile without fields (profiles.KnownMarker).
func hashPairs(fields map[string]string) []string {
	if len(fields) == 0 {
		return []string{profiles.KnownMarker, "true"}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, fields[k])
	}
	return pairs
}
