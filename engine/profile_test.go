package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// profileRules tell by their segments which profile a decision saw.
const profileRules = `
segments:
  - id: known
    when: profile.known
  - id: gold
    when: profile.tier == "gold"
  - id: named
    when: profile.id == "c-1042"
offers:
  - id: capped
    kind: action
    caps: {total: 10}
`

// sourceFunc is a ProfileSource.
type sourceFunc func(ctx context.Context, schema *rules.Schema, id string) (*Profile, error)

func (f sourceFunc) Get(ctx context.Context, schema *rules.Schema, id string) (*Profile, error) {
	return f(ctx, schema, id)
}

// TestDecideProfileSource: without a profile, Decide looks the customer up
// in its source within the profile timeout; a failure or a timeout gives
// the defaults and profile_unavailable.
func TestDecideProfileSource(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": profileRules})
	gold := profileOf(rs, "c-1042", map[string]any{"tier": "gold"})
	cases := []struct {
		name     string
		src      ProfileSource // nil: no source
		id       string
		segments string
		degraded bool
	}{
		{"no source", nil, "c-1042", "named", false},
		{"found", sourceFunc(func(context.Context, *rules.Schema, string) (*Profile, error) { return gold, nil }), "c-1042", "gold,known,named", false},
		{"unknown", sourceFunc(func(_ context.Context, s *rules.Schema, id string) (*Profile, error) {
			return DefaultProfile(s, id), nil
		}), "c-1042", "named", false},
		{"nothing", sourceFunc(func(context.Context, *rules.Schema, string) (*Profile, error) { return nil, nil }), "c-1042", "named", false},
		{"error", sourceFunc(func(context.Context, *rules.Schema, string) (*Profile, error) {
			return nil, errors.New("redis: connection refused")
		}), "c-1042", "named", true},
		{"slow", sourceFunc(func(ctx context.Context, _ *rules.Schema, _ string) (*Profile, error) {
			<-ctx.Done() // a store that honours the deadline
			return nil, ctx.Err()
		}), "c-1042", "named", true},
		{"anonymous", sourceFunc(func(context.Context, *rules.Schema, string) (*Profile, error) {
			return nil, errors.New("an anonymous customer was looked up")
		}), "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := Options{ProfileTimeout: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			if tc.src != nil {
				o.Profiles = tc.src
			}
			start := time.Now()
			req := &Request{CustomerID: tc.id, Placement: "checkout", Now: testNow}
			d, err := New(o).Decide(context.Background(), rs, nil, req)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*time.Second {
				t.Error("the profile timeout did not bound the decision")
			}
			if got := strings.Join(d.Segments, ","); got != tc.segments {
				t.Errorf("segments %q, want %q", got, tc.segments)
			}
			// No ledger: the capped offer degrades the decision too, after the profile.
			want := fmt.Sprint([]string{DegradedLedger})
			if tc.degraded {
				want = fmt.Sprint([]string{DegradedProfile, DegradedLedger})
			}
			if got := fmt.Sprint(d.Degraded); got != want {
				t.Errorf("degraded %s, want %s", got, want)
			}
			if logged := strings.Contains(logs.String(), "profile unavailable"); logged != tc.degraded {
				t.Errorf("logged %v, degraded %v: %s", logged, tc.degraded, logs.String())
			}
		})
	}
}

// TestDecideProfileGiven: a profile passed to Decide is used as is; the
// source is not asked.
func TestDecideProfileGiven(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": profileRules})
	var gets atomic.Int64
	src := sourceFunc(func(context.Context, *rules.Schema, string) (*Profile, error) { gets.Add(1); return nil, nil })
	req := &Request{CustomerID: "c-1042", Placement: "checkout", Now: testNow}
	d, err := New(Options{Profiles: src}).Decide(context.Background(), rs, profileOf(rs, "c-1042", map[string]any{"tier": "gold"}), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Segments, ","); got != "gold,known,named" || gets.Load() != 0 {
		t.Errorf("segments %q, source asked %d times", got, gets.Load())
	}
}

// cachedStub is a ProfileSource with a cache: Cached answers hit when set;
// Get counts its calls.
type cachedStub struct {
	hit  *Profile
	gets atomic.Int64
}

func (c *cachedStub) Cached(*rules.Schema, string) (*Profile, bool) {
	return c.hit, c.hit != nil
}

func (c *cachedStub) Get(ctx context.Context, _ *rules.Schema, id string) (*Profile, error) {
	c.gets.Add(1)
	return &Profile{ID: id, Known: true, Attrs: map[string]any{"id": id, "known": true, "tier": "basic"}}, nil
}

// TestDecideProfileCacheHit: a source with a cache is asked for a fresh
// entry first, and a hit is served without Get (whose deadline costs a
// timer).
func TestDecideProfileCacheHit(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": profileRules})
	hit := profileOf(rs, "c-1042", map[string]any{"tier": "gold"})
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprint("cached=", cached), func(t *testing.T) {
			src := &cachedStub{}
			if cached {
				src.hit = hit
			}
			req := &Request{CustomerID: "c-1042", Placement: "checkout", Now: testNow}
			d, err := New(Options{Profiles: src}).Decide(context.Background(), rs, nil, req)
			if err != nil {
				t.Fatal(err)
			}
			segs := strings.Join(d.Segments, ",")
			if gets := src.gets.Load(); cached && (gets != 0 || segs != "gold,known,named") || !cached && (gets != 1 || segs != "known,named") {
				t.Errorf("Get called %d times, segments %q", gets, segs)
			}
		})
	}
}

func TestDefaultProfile(t *testing.T) {
	rs := load(t, map[string]string{"rules.yaml": profileRules})
	p := DefaultProfile(&rs.Schema, "c9")
	if p.Known || p.ID != "c9" || p.Attrs["known"] != false || p.Attrs["tier"] != "basic" || p.Attrs["ltv"] != 0.0 {
		t.Errorf("got %#v", p)
	}
	if p := DefaultProfile(nil, ""); p.Attrs["id"] != "" || p.Known {
		t.Errorf("nil schema: %#v", p)
	}
}

// BenchmarkDecideProfileLookup is BenchmarkDecide with the profile looked
// up by the engine: from a cache hit (no deadline, so no allocation more
// than a given profile), and from a source without a cache (a fetch within
// the profile timeout, whose timer allocates).
func BenchmarkDecideProfileLookup(b *testing.B) {
	rs := loadDir(b, "../examples/checkout")
	p := profileOf(rs, "c-1042", map[string]any{"ltv": 1800.0, "orders": 9, "tier": "gold", "country": "US"})
	c := cart("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "TEE-9", "apparel", 25.0, 1)
	for _, bc := range []struct {
		name string
		src  ProfileSource
	}{
		{"given", nil},
		{"cache_hit", &cachedStub{hit: p}},
		{"fetch", sourceFunc(func(context.Context, *rules.Schema, string) (*Profile, error) { return p, nil })},
	} {
		b.Run(bc.name, func(b *testing.B) {
			eng := New(Options{Ledger: newTestLedger(), Profiles: bc.src})
			given := p
			if bc.src != nil {
				given = nil
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				req := Request{DecisionID: "dcs_1", CustomerID: "c-1042", Placement: "checkout", Channel: "web",
					Cart: c, Now: testNow, DryRun: true}
				if _, err := eng.Decide(ctx, rs, given, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
