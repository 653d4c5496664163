package profilestore

import (
	"container/list"
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

// CacheOptions bound a Cache. Zero values take the defaults.
type CacheOptions struct {
	// MaxEntries bounds the number of cached customers (default 100000).
	MaxEntries int
	// MaxBytes bounds the memory of the entries on the heap (default 64
	// MiB): structs, map slots, stored fields and the decoded profile,
	// each allocation rounded to its size class (memsize.go; within 0.8 to
	// 1.25 of the heap, TestCacheBytesMatchHeap).
	MaxBytes int64
	// TTL is how long a found profile is served from the cache (default
	// 30s): the longest a data team's write can go unseen when nothing calls
	// Invalidate.
	TTL time.Duration
	// NegativeTTL is how long "no such profile" is remembered (default 5s):
	// from a RawSource, as 16 bytes in a table of fixed size (negative.go).
	NegativeTTL time.Duration
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

// Default cache bounds.
const (
	DefaultCacheEntries = 100_000
	DefaultCacheBytes   = 64 << 20
	DefaultCacheTTL     = 30 * time.Second
	DefaultNegativeTTL  = 5 * time.Second
)

const cacheShards = 16

// Cache is a bounded in-process cache in front of a profile source: LRU
// per shard, bounded in entries and approximate bytes, with a TTL, negative
// entries for unknown customers, and a single flight per customer so that
// a burst of requests for one customer costs one round trip. Errors are
// never cached. When the source is a RawSource, the cache keeps the stored
// fields and decodes them per schema, so a rules reload never serves a
// profile decoded under another schema (and costs no round trip);
// otherwise it keys entries by schema. It is an engine.ProfileSource with
// the engine.ProfileCache fast path, and safe for concurrent use.
type Cache struct {
	src     engine.ProfileSource
	raw     RawSource
	missing missingSource // raw's, when it has Missing
	sharing sharingSource // raw's, when it has Sharing
	opts    CacheOptions
	seed    maphash.Seed
	shards  [cacheShards]shard

	hits, misses atomic.Uint64
}

type shard struct {
	mu       sync.Mutex
	entries  map[cacheKey]*list.Element // of *entry
	lru      list.List                  // front: most recent
	bytes    int64
	maxEnt   int
	maxBytes int64
	gen      uint64 // bumped by Invalidate: a flight that began before does not store
	flights  map[cacheKey]*flight
	// neg holds the negative answers (no such profile) of a RawSource;
	// negSize is its length once allocated, negBytes its heap (in bytes).
	neg      negTable
	negSize  int
	negBytes int64
}

// cacheKey names an entry: the customer, and the schema when the source
// gives only decoded profiles (nil for a RawSource).
type cacheKey struct {
	schema *rules.Schema
	id     string
}

type entry struct {
	key     cacheKey
	id      string
	schema  *rules.Schema // the schema of decoded (and, without raw, of the entry)
	stored  packedFields  // the stored fields of a RawSource (packed.go)
	found   bool
	decoded atomic.Pointer[decoded]
	expires time.Time
	size    int64
}

type decoded struct {
	schema *rules.Schema
	p      *engine.Profile
}

// missingSource is a RawSource that can tell, without I/O, that a customer
// has no profile (RedisStore with StoreOptions.Exists).
type missingSource interface {
	Missing(id string) bool
}

// sharingSource is a RawSource whose decoded profiles share the values of
// some fields between customers (RedisStore: profiles.Shared); the cache
// does not count those values in an entry's bytes.
type sharingSource interface {
	// Sharing returns whether field i of schema is shared, or nil when
	// none is.
	Sharing(schema *rules.Schema) func(i int) bool
}

// shared is the source's Sharing of schema, or nil.
func (c *Cache) shared(schema *rules.Schema) func(int) bool {
	if c.sharing == nil {
		return nil
	}
	return c.sharing.Sharing(schema)
}

type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

// NewCache returns a cache in front of src.
func NewCache(src engine.ProfileSource, opts CacheOptions) *Cache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultCacheEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultCacheBytes
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultCacheTTL
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cache{src: src, opts: opts, seed: maphash.MakeSeed()}
	c.raw, _ = src.(RawSource)
	if c.raw != nil {
		c.missing, _ = src.(missingSource)
		c.sharing, _ = src.(sharingSource)
	}
	perEnt := (opts.MaxEntries + cacheShards - 1) / cacheShards
	perBytes := (opts.MaxBytes + cacheShards - 1) / cacheShards
	for i := range c.shards {
		c.shards[i] = shard{entries: map[cacheKey]*list.Element{}, maxEnt: perEnt, maxBytes: perBytes, flights: map[cacheKey]*flight{},
			negSize: negSlotsFor(perEnt, perBytes)}
	}
	return c
}

// shardOf returns the shard of id and the id's hash (its negative entry's).
func (c *Cache) shardOf(id string) (*shard, uint64) {
	h := maphash.String(c.seed, id)
	return &c.shards[h%cacheShards], h
}

// Get returns the customer's profile decoded by schema: from the cache when
// fresh, else from the source (one call per customer at a time; callers
// arriving meanwhile wait for it or for their own context).
func (c *Cache) Get(ctx context.Context, schema *rules.Schema, id string) (*engine.Profile, error) {
	if id == "" {
		return engine.DefaultProfile(schema, ""), nil
	}
	key := c.key(schema, id)
	sh, h := c.shardOf(id)
	now := c.opts.Now()

	sh.mu.Lock()
	if e := sh.freshLocked(key, now); e != nil {
		sh.mu.Unlock()
		c.hits.Add(1)
		return c.decode(e, schema), nil
	}
	if c.raw != nil && sh.neg.has(h, now.UnixNano()) {
		sh.mu.Unlock()
		c.hits.Add(1)
		return c.raw.Decode(schema, id, nil, false), nil
	}
	c.misses.Add(1)
	// The entry and the flight keep the id: a copy, since the caller's may
	// be the memory of a request, reused once it is answered.
	id = strings.Clone(id)
	key = c.key(schema, id)
	if f, ok := sh.flights[key]; ok {
		sh.mu.Unlock()
		return c.wait(ctx, f, schema, id)
	}
	f := &flight{done: make(chan struct{})}
	sh.flights[key] = f
	gen := sh.gen
	sh.mu.Unlock()

	e, err := c.load(ctx, schema, id, key)
	var p *engine.Profile
	if err == nil {
		p = c.decode(e, schema)
		e.size = entryBytes(e, p, c.shared(schema)) // memsize.go
	}
	f.e, f.err = e, err

	sh.mu.Lock()
	delete(sh.flights, key)
	if err == nil && sh.gen == gen {
		switch {
		case e.found:
			e.expires = now.Add(c.opts.TTL)
			sh.storeLocked(e)
			sh.neg.remove(h)
		case c.raw != nil:
			// No such profile: a slot of the negative table, not an entry.
			if b := sh.neg.put(h, now.Add(c.opts.NegativeTTL).UnixNano(), now.UnixNano(), sh.negSize); b > 0 {
				sh.negBytes += b
				sh.bytes += b
			}
		default:
			e.expires = now.Add(c.opts.NegativeTTL)
			sh.storeLocked(e)
		}
	}
	sh.mu.Unlock()
	close(f.done)
	return p, err
}

// Cached returns the customer's profile when the cache holds it fresh, and
// ok false otherwise (then Get fetches it). It never calls the source nor
// waits for a fetch (only for the shard's lock, and for decoding when the
// entry was decoded under another schema), so a caller can keep the cost
// of a deadline for the lookups that may go to the source. The one
// exception asks no Redis either: a source that knows in process that a
// customer has no profile (RedisStore's Missing, with the embedded Redis)
// answers the defaults here, counted as a miss, and stores nothing, so a
// profile written later is found at once.
func (c *Cache) Cached(schema *rules.Schema, id string) (p *engine.Profile, ok bool) {
	if id == "" {
		return nil, false
	}
	sh, h := c.shardOf(id)
	now := c.opts.Now()
	sh.mu.Lock()
	e := sh.freshLocked(c.key(schema, id), now)
	neg := e == nil && c.raw != nil && sh.neg.has(h, now.UnixNano())
	sh.mu.Unlock()
	if neg {
		c.hits.Add(1)
		return c.raw.Decode(schema, id, nil, false), true
	}
	if e == nil {
		if c.missing != nil && c.missing.Missing(id) {
			c.misses.Add(1)
			return c.raw.Decode(schema, id, nil, false), true
		}
		return nil, false
	}
	c.hits.Add(1)
	return c.decode(e, schema), true
}

func (c *Cache) key(schema *rules.Schema, id string) cacheKey {
	if c.raw == nil {
		return cacheKey{schema: schema, id: id}
	}
	return cacheKey{id: id}
}

// freshLocked returns the entry of key when it has not expired, marking it
// recently used; an expired one is dropped.
func (s *shard) freshLocked(key cacheKey, now time.Time) *entry {
	el, ok := s.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		s.removeLocked(el)
		return nil
	}
	s.lru.MoveToFront(el)
	return e
}

// wait waits for another caller's fetch. The profile it decoded is under
// its schema; a waiter with another schema decodes the fields itself.
func (c *Cache) wait(ctx context.Context, f *flight, schema *rules.Schema, id string) (*engine.Profile, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return c.decode(f.e, schema), nil
}

// load fetches one customer from the source as a new entry.
func (c *Cache) load(ctx context.Context, schema *rules.Schema, id string, key cacheKey) (*entry, error) {
	e := &entry{key: key, id: id, schema: schema}
	if c.raw != nil {
		fields, found, err := c.raw.Fetch(ctx, id)
		if err != nil {
			return nil, err
		}
		e.stored, e.found = packFields(fields), found
		return e, nil
	}
	p, err := c.src.Get(ctx, schema, id)
	if err != nil {
		return nil, err
	}
	e.found = p.Known
	e.decoded.Store(&decoded{schema: schema, p: p})
	return e, nil
}

// decode returns the entry's profile under schema, decoding the kept fields
// when the entry was last decoded under another schema.
func (c *Cache) decode(e *entry, schema *rules.Schema) *engine.Profile {
	if d := e.decoded.Load(); d != nil && d.schema == schema {
		return d.p
	}
	var p *engine.Profile
	if c.raw != nil {
		// Decoded from the packed fields, so that the profile's strings
		// are read from them rather than keeping go-redis's.
		p = c.raw.Decode(schema, e.id, e.stored.view(), e.found)
	} else {
		// Entries are keyed by schema: this is a waiter whose schema differs
		// from the fetcher's (a reload during the fetch). Without the fields
		// it can only read the profile again as it stands.
		d := e.decoded.Load()
		p = redecode(schema, d.p)
		return p
	}
	e.decoded.Store(&decoded{schema: schema, p: p})
	return p
}

func (s *shard) storeLocked(e *entry) {
	if el, ok := s.entries[e.key]; ok {
		s.removeLocked(el)
	}
	s.entries[e.key] = s.lru.PushFront(e)
	s.bytes += e.size
	for (len(s.entries) > s.maxEnt || s.bytes > s.maxBytes) && s.lru.Len() > 1 {
		s.removeLocked(s.lru.Back())
	}
}

func (s *shard) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	s.lru.Remove(el)
	delete(s.entries, e.key)
	s.bytes -= e.size
}

// Invalidate drops a customer's cached profile (under every schema), and
// keeps a fetch already under way from storing what it read.
func (c *Cache) Invalidate(id string) {
	sh, h := c.shardOf(id)
	sh.mu.Lock()
	sh.gen++
	sh.neg.remove(h)
	if el, ok := sh.entries[cacheKey{id: id}]; ok {
		sh.removeLocked(el)
	}
	if c.raw == nil {
		for key, el := range sh.entries {
			if key.id == id {
				sh.removeLocked(el)
			}
		}
	}
	sh.mu.Unlock()
}

// InvalidateAll drops every cached profile.
func (c *Cache) InvalidateAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		sh.entries = map[cacheKey]*list.Element{}
		sh.lru.Init()
		sh.neg.clear()
		sh.bytes = sh.negBytes
		sh.mu.Unlock()
	}
}

// Stats returns the number of lookups answered from the cache (hits) and
// those that went to the source or waited for a fetch (misses).
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Size returns the number of cached customers and their approximate bytes.
// Unknown customers count by the slots of the negative tables (negative.go)
// that hold one, expired answers included until their slot is taken; the
// tables' bytes count once allocated.
func (c *Cache) Size() (entries int, bytes int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		entries += len(sh.entries) + sh.neg.live
		bytes += sh.bytes
		sh.mu.Unlock()
	}
	return entries, bytes
}

// redecode reads a profile decoded under one schema by another, through
// its JSON form: fields the new schema has and the old one did not take
// their defaults.
func redecode(schema *rules.Schema, p *engine.Profile) *engine.Profile {
	if !p.Known {
		return engine.DefaultProfile(schema, p.ID)
	}
	m := p.AttrMap() // read, not changed
	q, err := profiles.FromJSON(schema, m)
	if err != nil {
		// a field changed type: read the profile with what fits
		fields := make(map[string]string, len(m))
		for k, v := range m {
			fields[k] = profiles.HashValue(v)
		}
		q, _ = profiles.FromHash(schema, p.ID, fields)
	}
	return q
}
