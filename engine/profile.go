package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// ProfileSource gives a customer's profile decoded by a schema: the
// engine's way to the profile store (adapters/profilestore: the Redis store
// and its in-process cache). An unknown customer is (a profile with Known
// false, nil) or (nil, nil); an error means the store failed or timed out,
// and the decision degrades (profile_unavailable). id is valid only
// during the call (it may be the memory of a request the server reuses):
// a source copies it to keep it. Get must honour ctx's
// deadline.
type ProfileSource interface {
	Get(ctx context.Context, schema *rules.Schema, id string) (*Profile, error)
}

// ProfileCache is the optional fast path of a ProfileSource that keeps
// profiles in process: Cached answers a fresh entry (ok true) without going
// to the store nor waiting for a fetch, so the engine starts the profile
// deadline's timer, which costs more than the lookup, only for the lookups
// that may reach the store.
type ProfileCache interface {
	Cached(schema *rules.Schema, id string) (p *Profile, ok bool)
}

// DefaultProfileTimeout bounds a profile fetch when Options.ProfileTimeout
// is 0.
const DefaultProfileTimeout = 20 * time.Millisecond

// DefaultProfile is the profile of a customer without a stored profile:
// every field of schema at its default (rules.Schema.Defaults, shared and
// never to be changed), Known false, ID as given ("" for an anonymous
// customer). A nil schema has no fields.
func DefaultProfile(schema *rules.Schema, id string) *Profile {
	if schema == nil {
		schema = &rules.Schema{}
	}
	// The schema's defaults say "id" "": the engine reads the id from ID.
	// So a cache's negative entries (one per unknown id seen) cost no map
	// of their own.
	return &Profile{ID: id, Attrs: schema.Defaults()}
}

// profile looks up the profile of customer id for a decision under rs:
// from the cache when it holds the customer fresh (no deadline), else from
// the source within the profile timeout. No id or no source: the defaults.
// degraded is true when the source failed or timed out; the profile is
// then the defaults.
func (e *Engine) profile(ctx context.Context, rs *rules.Ruleset, id string) (p *Profile, degraded bool) {
	if id == "" || e.opts.Profiles == nil {
		return DefaultProfile(&rs.Schema, id), false
	}
	if e.cache != nil {
		if p, ok := e.cache.Cached(&rs.Schema, id); ok {
			return p, false
		}
	}
	pctx, cancel := context.WithTimeout(ctx, e.opts.ProfileTimeout)
	p, err := e.opts.Profiles.Get(pctx, &rs.Schema, id)
	cancel()
	if err != nil {
		if l := e.opts.Logger; l != nil && l.Enabled(ctx, slog.LevelDebug) { // debug only: decisions stay quiet when the store is down
			l.Debug("profile unavailable", "error", err.Error())
		}
		return DefaultProfile(&rs.Schema, id), true
	}
	if p == nil {
		return DefaultProfile(&rs.Schema, id), false
	}
	return p, false
}
