package wire

import (
	"bytes"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/arbiterhq/arbiter/currency"
	"github.com/arbiterhq/arbiter/engine"
)

// RequestDecoder decodes POST /v1/decide bodies as DecodeDecide does, into
// a request and memory of its own that it reuses from one body to the
// next, so that decoding allocates nothing once it has seen a few
// requests: the cart's lines, their tags and the context's map are its
// own, and the strings decoded are either interned (Interner: placements,
// channels, currencies, categories, tags, context keys and values) or
// kept in an arena of its own (customer ids, skus).
//
// The request Decode returns, and every string and list in it, is valid
// only until the next call to Decode: whatever must outlive the request
// (an event, a cache entry, a ledger's record, a metric's label) is copied
// by whoever keeps it. A RequestDecoder is not safe for concurrent use;
// keep one per request in flight (a sync.Pool).
type RequestDecoder struct {
	// Interner is shared by the decoders of a server; nil: nothing is
	// interned, every string goes to the arena.
	Interner *Interner

	req   engine.Request
	arena []byte
	items []engine.Item
	tags  []string
	ctx   map[string]any
}

// Decode decodes and validates body (DecodeDecide) into the decoder's
// request. Errors are *Error.
func (d *RequestDecoder) Decode(body []byte, maxActions int) (*engine.Request, error) {
	req, werr := decodeDecide(body, maxActions, false, d)
	if werr != nil {
		return nil, werr
	}
	return req, nil
}

// begin readies the decoder's memory for a body of n bytes: the arena has
// room for every string of it (unescaping never lengthens a string), so it
// does not move while the body is decoded.
func (d *RequestDecoder) begin(n int) *RequestDecoder {
	if cap(d.arena) < n {
		d.arena = make([]byte, 0, n+n/2)
	}
	d.arena = d.arena[:0]
	clear(d.tags)
	d.tags = d.tags[:0]
	return d
}

// keep returns the string whose raw JSON contents are raw: interned when
// intern is set and the interner holds it (or takes it), else in the arena.
func (d *RequestDecoder) keep(raw []byte, intern bool) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return d.keepText(raw, intern)
	}
	start := len(d.arena)
	d.arena = appendUnescaped(d.arena, raw)
	text := d.arena[start:]
	if intern && d.Interner != nil {
		if e := d.Interner.lookup(text); e != nil {
			d.arena = d.arena[:start]
			return e.s
		}
	}
	return d.view(text)
}

// keepText is keep for text already unescaped.
func (d *RequestDecoder) keepText(text []byte, intern bool) string {
	if intern && d.Interner != nil {
		if e := d.Interner.lookup(text); e != nil {
			return e.s
		}
	}
	start := len(d.arena)
	d.arena = append(d.arena, text...)
	return d.view(d.arena[start:])
}

// keepAny is keep for a value of the context: an interned value comes
// boxed already.
func (d *RequestDecoder) keepAny(raw []byte) any {
	if d.Interner != nil && bytes.IndexByte(raw, '\\') < 0 {
		if e := d.Interner.lookup(raw); e != nil {
			return e.v
		}
	}
	return d.keep(raw, true)
}

// view is a string over b, which the arena holds until the next request.
func (d *RequestDecoder) view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// tagList returns an empty list with room for n tags, in the decoder's
// memory. A list that no longer fits starts a new block; the lists
// already handed out stay in the old one.
func (d *RequestDecoder) tagList(n int) []string {
	if cap(d.tags)-len(d.tags) < n {
		d.tags = make([]string, 0, max(2*cap(d.tags), n, 16))
	}
	start := len(d.tags)
	d.tags = d.tags[:start+n]
	return d.tags[start : start : start+n]
}

// contextMap returns the decoder's context map, emptied.
func (d *RequestDecoder) contextMap() map[string]any {
	if d.ctx == nil {
		d.ctx = make(map[string]any, 8)
	}
	clear(d.ctx)
	return d.ctx
}

// Interner holds one copy of the short strings that come again and again
// in requests (placements, channels, currencies, categories, tags, context
// keys and values), each with its boxed form for the context's map, so
// that decoding them allocates nothing. It learns them as they come, up
// to MaxInterned strings of at most MaxInternLength bytes, and never
// forgets one; once full, new strings go to each request's arena (and a
// context value is boxed anew). The ISO 4217 codes are always held. It is
// safe for concurrent use; reads take no lock.
type Interner struct {
	table atomic.Pointer[map[string]*interned]
	mu    sync.Mutex   // adding
	n     atomic.Int32 // strings learned (the currency codes not counted)
}

// Bounds of an Interner.
const (
	MaxInterned     = 1024
	MaxInternLength = 32
)

type interned struct {
	s string
	v any // s, boxed
}

// NewInterner returns an Interner holding the ISO 4217 codes.
func NewInterner() *Interner {
	in := &Interner{}
	m := map[string]*interned{}
	for _, c := range currency.Codes() {
		m[c] = &interned{s: c, v: c}
	}
	in.table.Store(&m)
	return in
}

// lookup returns the entry of text, learning it when there is room; nil
// when it is not held.
func (in *Interner) lookup(text []byte) *interned {
	if e := (*in.table.Load())[string(text)]; e != nil {
		return e
	}
	if len(text) > MaxInternLength || in.n.Load() >= MaxInterned {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	old := *in.table.Load()
	if e := old[string(text)]; e != nil {
		return e
	}
	if in.n.Load() >= MaxInterned {
		return nil
	}
	s := string(text)
	e := &interned{s: s, v: s}
	m := make(map[string]*interned, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[s] = e
	in.table.Store(&m)
	in.n.Add(1)
	return e
}
