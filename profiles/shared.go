package profiles

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// Shared shares the decoded values of stored profiles between customers.
// A decoded value is boxed (an interface holding it is an object of its
// own on the heap), and a cache holds every cached customer's profile
// decoded: sixteen fields are a dozen objects a customer, which the
// garbage collector marks at every cycle for as long as the customer stays
// cached. Most of a marketing profile repeats from one customer to the
// next (a tier, a country, a first name, a count of orders, a churn score
// to two decimals, a list of favourite categories), and a value that
// repeats can be one object for every customer who holds it.
//
// Each field of the schema has a table from the stored string to its
// decoded value, which FromHashShared reads and fills, and its default
// (for a customer without the field) boxed once. A field whose values
// do not repeat from one customer to the next (a time to the second, a
// lifetime value in cents) is found out by a trial: after sharedTrial
// lookups that fill its table, at least half of the next sharedTrial must
// find the value there, or the field is no longer shared and its table
// goes. A table stops growing at sharedMax values or sharedMaxBytes of
// stored strings (then about 1 MiB with its values and slots, at most).
// Booleans are never shared: Go boxes them without an allocation. The
// values are never modified once decoded (the cache already gives one
// profile to every request of its customer), so sharing them between
// customers is as safe as sharing them between requests.
//
// A Shared is for one schema (For) and safe for concurrent use.
type Shared struct {
	schema   *rules.Schema
	fields   []sharedField
	defaults []any // each field's default, boxed once
}

const (
	// sharedTrial is how many lookups decide whether a field's values
	// repeat enough to be shared.
	sharedTrial = 1024
	// sharedMax and sharedMaxBytes bound a field's table: values, and bytes
	// of their stored strings.
	sharedMax      = 1 << 14
	sharedMaxBytes = 256 << 10
)

type sharedField struct {
	off     atomic.Bool  // the values do not repeat enough, or a boolean
	full    atomic.Bool  // the table takes no more values
	phase   atomic.Int32 // of the trial: phaseFilling, phaseTrying, phaseDecided
	lookups atomic.Int64
	hits    atomic.Int64
	mu      sync.RWMutex
	values  map[string]any
	bytes   int // of the stored strings the table keeps (its keys)
}

// The phases of a field's trial (sharedField.count).
const (
	phaseFilling = iota
	phaseTrying
	phaseDecided
)

// NewShared returns an empty table for schema's fields.
func NewShared(schema *rules.Schema) *Shared {
	s := &Shared{schema: schema}
	if schema != nil {
		s.fields = make([]sharedField, len(schema.Fields))
		s.defaults = make([]any, len(schema.Fields))
		for i, f := range schema.Fields {
			s.defaults[i] = f.DefaultValue()
			if f.Type == rules.TypeBool {
				s.fields[i].off.Store(true)
			} else {
				s.fields[i].values = make(map[string]any)
			}
		}
	}
	return s
}

// For reports whether s is the table of schema.
func (s *Shared) For(schema *rules.Schema) bool { return s != nil && s.schema == schema }

// Sharing reports whether the values of field i are all shared: false for
// a boolean, for a field whose values were found not to repeat, and for a
// field whose table is full (a value it does not hold is then a
// customer's own).
func (s *Shared) Sharing(i int) bool {
	f := &s.fields[i]
	return !f.off.Load() && !f.full.Load()
}

// Stats returns, for each field of the schema in order, how many values its
// table holds (0 for a field that is not shared) and whether it is shared
// (its trial did not turn it off): for tests and diagnostics.
func (s *Shared) Stats() (held []int, shared []bool) {
	held, shared = make([]int, len(s.fields)), make([]bool, len(s.fields))
	for i := range s.fields {
		f := &s.fields[i]
		f.mu.RLock()
		held[i], shared[i] = len(f.values), !f.off.Load()
		f.mu.RUnlock()
	}
	return held, shared
}

// FromHashShared is FromHash with its values shared through s (nil: none
// shared, as FromHash), which must be the table of schema (For).
func FromHashShared(schema *rules.Schema, id string, fields map[string]string, s *Shared) (p *engine.Profile, bad []string) {
	if !s.For(schema) {
		return FromHash(schema, id, fields)
	}
	return fromHash(schema, id, fields, s)
}

// value decodes raw as field i of type t, from the table when it is there.
func (s *Shared) value(i int, t rules.Type, raw string) (any, bool) {
	f := &s.fields[i]
	if f.off.Load() {
		return fromHashValue(t, raw)
	}
	f.mu.RLock()
	v, hit := f.values[raw]
	f.mu.RUnlock()
	f.count(hit)
	if hit {
		return v, true
	}
	v, ok := fromHashValue(t, raw)
	if !ok || f.full.Load() {
		return v, ok
	}
	// The table keeps its own copies: raw, and a string value decoded from
	// it, may be read in place from a customer's stored fields, which the
	// table must not keep once that customer is gone.
	f.mu.Lock()
	defer f.mu.Unlock()
	if was, ok := f.values[raw]; ok {
		return was, true // another customer's decode stored it meanwhile
	}
	if f.values == nil || f.full.Load() {
		return v, true
	}
	key := strings.Clone(raw)
	if t == rules.TypeString {
		v = key
	}
	f.values[key] = v
	if f.bytes += len(key); len(f.values) >= sharedMax || f.bytes >= sharedMaxBytes {
		f.full.Store(true)
	}
	return v, true
}

// count records a lookup and, once the field has been tried, whether it
// stays shared. The first sharedTrial lookups fill the table (a value
// seen for the first time is a miss however often it will repeat); the
// next sharedTrial must find the value there at least half the time, or
// the field is no longer shared and its table goes.
func (f *sharedField) count(hit bool) {
	n := f.lookups.Add(1)
	if hit {
		f.hits.Add(1)
	}
	if n < sharedTrial {
		return
	}
	switch f.phase.Load() {
	case phaseFilling:
		if f.phase.CompareAndSwap(phaseFilling, phaseTrying) {
			f.hits.Store(0)
			f.lookups.Store(0)
		}
	case phaseTrying:
		if f.phase.CompareAndSwap(phaseTrying, phaseDecided) && f.hits.Load()*2 < n {
			f.mu.Lock()
			f.off.Store(true)
			f.values = nil // the table goes with its values
			f.mu.Unlock()
		}
	}
}
