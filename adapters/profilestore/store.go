// Package profilestore is the Redis profile store: RedisStore reads a
// customer's hash (PREFIX profile:{ID}) and decodes it by the schema
// (package profiles), Cache keeps decoded profiles in process in front of
// it, and Import and Put write profiles in their JSON form as hashes
// (`arbiter profiles import`, `serve --profiles`). RedisStore and Cache are
// the engine's engine.ProfileSource; Cache is also its engine.ProfileCache.
// docs/redis.md describes the keys and the cache for operators.
package profilestore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

// DefaultPrefix is the default key prefix of every key Arbiter keeps in
// Redis.
const DefaultPrefix = "arbiter:"

// The store and the cache are what the engine looks profiles up in; the
// cache also answers fresh entries without a deadline.
var (
	_ engine.ProfileSource = (*RedisStore)(nil)
	_ engine.ProfileSource = (*Cache)(nil)
	_ engine.ProfileCache  = (*Cache)(nil)
)

// RawSource is a profile source that can also hand out a profile's stored
// fields undecoded, so that a cache can keep them and decode them again
// under a new schema after a rules reload. found is false for an unknown
// customer; Decode turns what Fetch returned into a profile. RedisStore is
// one.
type RawSource interface {
	engine.ProfileSource
	Fetch(ctx context.Context, id string) (fields map[string]string, found bool, err error)
	Decode(schema *rules.Schema, id string, fields map[string]string, found bool) *engine.Profile
}

// StoreOptions configure a RedisStore.
type StoreOptions struct {
	// Prefix of every key; DefaultPrefix when "".
	Prefix string
	// Timeout bounds each fetch on top of the caller's context (and of the
	// client's own read timeout); 0 leaves it to those.
	Timeout time.Duration
	// Exists, when set, says whether a key exists without a round trip: it
	// is for a Redis that runs in this process (serve's embedded miniredis
	// gives its (*miniredis.Miniredis).Exists). A customer whose key it says
	// does not exist is unknown at once, without an HGETALL. It is asked on
	// every fetch, so a profile any client writes is seen as soon as it is
	// written, as without it.
	Exists func(key string) bool
}

// StoreStats counts a RedisStore's work.
type StoreStats struct {
	Gets      uint64 // fetches from Redis (HGETALL)
	Unknown   uint64 // fetches that found no profile (StoreOptions.Exists's included)
	Errors    uint64 // fetches that failed or timed out
	BadFields uint64 // stored values that did not parse under the schema (treated as missing)
}

// RedisStore reads profiles from Redis hashes at PREFIX profile:{ID}.
// It is safe for concurrent use.
type RedisStore struct {
	client  redis.Cmdable
	prefix  string
	timeout time.Duration
	exists  func(key string) bool

	gets, unknown, errs, bad atomic.Uint64
	// shared is the table of values decoded profiles share, for the schema
	// the last decode had (profiles.Shared).
	shared atomic.Pointer[profiles.Shared]
}

// NewRedisStore returns a store reading profiles through client: a
// client, or its autopipeliner (redisconn.AutoPipelined), which a busy
// server's concurrent fetches share round trips through.
func NewRedisStore(client redis.Cmdable, opts StoreOptions) *RedisStore {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &RedisStore{client: client, prefix: opts.Prefix, timeout: opts.Timeout, exists: opts.Exists}
}

// Key returns the Redis key of a customer's profile: PREFIX profile:{ID}.
// The braces are a Redis Cluster hash tag.
func (s *RedisStore) Key(id string) string { return ProfileKey(s.prefix, id) }

// ProfileKey returns the key of a customer's profile hash under prefix.
func ProfileKey(prefix, id string) string { return prefix + "profile:{" + id + "}" }

// Fetch reads a profile's stored fields: one HGETALL. An empty or missing
// hash is found false (with StoreOptions.Exists, a missing one without the
// HGETALL).
func (s *RedisStore) Fetch(ctx context.Context, id string) (map[string]string, bool, error) {
	if s.Missing(id) {
		return nil, false, nil
	}
	key := s.Key(id)
	if s.timeout > 0 {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > s.timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.timeout)
			defer cancel()
		}
	}
	s.gets.Add(1)
	fields, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		s.errs.Add(1)
		return nil, false, fmt.Errorf("profile %q: redis: %w", id, err)
	}
	if len(fields) == 0 {
		s.unknown.Add(1)
		return nil, false, nil
	}
	return fields, true, nil
}

// Missing reports whether the customer has no profile, when that is known
// without a round trip (StoreOptions.Exists says its key does not exist);
// false otherwise, and then Fetch asks Redis. A true answer counts as an
// unknown fetch in Stats.
func (s *RedisStore) Missing(id string) bool {
	if s.exists == nil || id == "" || s.exists(s.Key(id)) {
		return false
	}
	s.unknown.Add(1)
	return true
}

// Get fetches and decodes a profile. The anonymous customer ("") costs no
// round trip. Values that do not parse are counted (Stats().BadFields) and
// read as missing.
func (s *RedisStore) Get(ctx context.Context, schema *rules.Schema, id string) (*engine.Profile, error) {
	if id == "" {
		return engine.DefaultProfile(schema, ""), nil
	}
	fields, found, err := s.Fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.Decode(schema, id, fields, found), nil
}

// Sharing returns whether the values of field i of schema are shared
// between the customers' decoded profiles (profiles.Shared), or nil before
// a profile of schema was decoded.
func (s *RedisStore) Sharing(schema *rules.Schema) func(i int) bool {
	if shared := s.shared.Load(); shared.For(schema) {
		return shared.Sharing
	}
	return nil
}

// Decode turns fetched fields into a profile, counting bad values.
func (s *RedisStore) Decode(schema *rules.Schema, id string, fields map[string]string, found bool) *engine.Profile {
	if !found {
		return engine.DefaultProfile(schema, id)
	}
	shared := s.shared.Load()
	if !shared.For(schema) {
		// A new ruleset's schema (or the first decode): a new table, the
		// old one going with the profiles of the old schema. Of two
		// decodes that make one at once, one table is kept.
		if made := profiles.NewShared(schema); s.shared.CompareAndSwap(shared, made) {
			shared = made
		} else if shared = s.shared.Load(); !shared.For(schema) {
			shared = made // the two schemas of a reload, for a moment
		}
	}
	p, bad := profiles.FromHashShared(schema, id, fields, shared)
	if len(bad) > 0 {
		s.bad.Add(uint64(len(bad)))
	}
	return p
}

// Stats returns the store's counters.
func (s *RedisStore) Stats() StoreStats {
	return StoreStats{Gets: s.gets.Load(), Unknown: s.unknown.Load(), Errors: s.errs.Load(), BadFields: s.bad.Load()}
}
