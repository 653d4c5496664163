package httpapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

// TestReadyzUpDown: /readyz needs no key, says up or down per dependency
// (redis, nats, rules) and never echoes a check's error, which names hosts
// and users; 200 once a ruleset serves, else 503.
func TestReadyzUpDown(t *testing.T) {
	checks := map[string]Check{
		"redis": func(context.Context) error {
			return errors.New("dial tcp redis-7.internal.example:6379: WRONGPASS invalid username-password pair or user arbiter-svc is disabled")
		},
		"nats": func(context.Context) error { return nil },
	}
	h := newHarness(t, false, func(o *Options) { o.Checks, o.APIKeys = checks, []string{"k-secret"} })
	v := loadOpenAPI(t)
	for _, loaded := range []bool{false, true} {
		if loaded {
			if _, err := h.rules.Reload("start"); err != nil {
				t.Fatal(err)
			}
		}
		r := h.do("GET", "/readyz", "")
		want, rules := 503, "down"
		if loaded {
			want, rules = 200, "up"
		}
		if r.status != want {
			t.Errorf("loaded %v: %d %s, want %d", loaded, r.status, r.body, want)
		}
		m := r.json(t)
		deps, _ := m["dependencies"].(map[string]any)
		if deps["redis"] != "down" || deps["nats"] != "up" || deps["rules"] != rules || len(deps) != 3 {
			t.Errorf("loaded %v: dependencies %v, want redis down, nats up, rules %s", loaded, deps, rules)
		}
		for _, leak := range []string{"redis-7.internal", "arbiter-svc", "WRONGPASS", "6379"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("loaded %v: /readyz echoes %q: %s", loaded, leak, r.body)
			}
		}
		if err := v.check("$", v.response(t, "/readyz", "GET", want), m); err != nil {
			t.Errorf("against docs/openapi.yaml: %v", err)
		}
	}
}

// countedChecks are /readyz's checks of a real Redis and NATS (those of
// ARBITER_TEST_REDIS_URL and ARBITER_TEST_NATS_URL, else miniredis and an
// embedded NATS server): a PING to Redis and a round trip to NATS, each
// counted.
func countedChecks(t *testing.T) (checks map[string]Check, redisPings, natsPings *atomic.Int64) {
	t.Helper()
	rdb, _, _ := redistest.Client(t)
	url, _ := eventstest.URL(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("NATS at %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	redisPings, natsPings = new(atomic.Int64), new(atomic.Int64)
	checks = map[string]Check{
		"redis": func(ctx context.Context) error { redisPings.Add(1); return rdb.Ping(ctx).Err() },
		"nats":  func(ctx context.Context) error { natsPings.Add(1); return nc.FlushWithContext(ctx) },
	}
	return checks, redisPings, natsPings
}

// TestReadyzChecksShared: many /readyz requests at once, which need no key
// (a probe storm, a scanner), make one check of each dependency, not one
// each; the answer is reused for ReadyCacheTTL, and checked again after.
func TestReadyzChecksShared(t *testing.T) {
	checks, redisPings, natsPings := countedChecks(t)
	clock := &testClock{t: time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)}
	h := newHarness(t, true, func(o *Options) { o.Checks, o.Now = checks, clock.now })
	const n = 64
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() {
			r := h.do("GET", "/readyz", "")
			statuses[i], bodies[i] = r.status, string(r.body)
		})
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != 200 || !strings.Contains(bodies[i], `"redis":"up"`) || !strings.Contains(bodies[i], `"nats":"up"`) {
			t.Fatalf("request %d: %d %s", i, statuses[i], bodies[i])
		}
	}
	if r, nt := redisPings.Load(), natsPings.Load(); r != 1 || nt != 1 {
		t.Errorf("%d concurrent /readyz sent %d Redis pings and %d NATS round trips, want 1 and 1", n, r, nt)
	}
	clock.add(ReadyCacheTTL - time.Millisecond)
	h.do("GET", "/readyz", "")
	if r := redisPings.Load(); r != 1 {
		t.Errorf("within %s of the check: %d Redis pings, want the answer reused", ReadyCacheTTL, r)
	}
	clock.add(time.Millisecond)
	h.do("GET", "/readyz", "")
	if r, nt := redisPings.Load(), natsPings.Load(); r != 2 || nt != 2 {
		t.Errorf("%s after the check: %d Redis pings and %d NATS round trips, want 2 and 2", ReadyCacheTTL, r, nt)
	}
}

// TestReadyzSeesChange: Redis going down, and back up, shows at /readyz
// within ReadyCacheTTL of the last check, never later.
func TestReadyzSeesChange(t *testing.T) {
	rdb, mr, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	clock := &testClock{t: time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)}
	checks := map[string]Check{"redis": func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
	h := newHarness(t, true, func(o *Options) { o.Checks, o.Now = checks, clock.now })
	steps := []struct {
		name    string
		advance time.Duration
		down    bool // Redis answers every command with an error from now on
		want    string
	}{
		{"first check", 0, false, StateUp},
		{"down, within the interval", ReadyCacheTTL / 2, true, StateUp},
		{"down, at the interval", ReadyCacheTTL / 2, true, StateDown},
		{"still down", ReadyCacheTTL, true, StateDown},
		{"up, within the interval", ReadyCacheTTL / 4, false, StateDown},
		{"up, at the interval", ReadyCacheTTL, false, StateUp},
		{"clock stepped back", -time.Hour, false, StateUp},
	}
	for _, st := range steps {
		clock.add(st.advance)
		if st.down {
			mr.SetError("LOADING Redis is loading the dataset in memory")
		} else {
			mr.SetError("")
		}
		m := h.do("GET", "/readyz", "").json(t)
		if got := m["dependencies"].(map[string]any)["redis"]; got != st.want {
			t.Errorf("%s: redis %v, want %s", st.name, got, st.want)
		}
	}
}

// TestReadyzCheckPanics: a readiness check that panics reports its
// dependency down, and the server goes on answering (a panic in a check's
// goroutine would otherwise stop the process).
func TestReadyzCheckPanics(t *testing.T) {
	checks := map[string]Check{
		"nats":  func(context.Context) error { panic("a nil connection") },
		"redis": func(context.Context) error { return nil },
	}
	h := newHarness(t, true, func(o *Options) { o.Checks = checks })
	m := h.do("GET", "/readyz", "").json(t)
	deps := m["dependencies"].(map[string]any)
	if deps["nats"] != StateDown || deps["redis"] != StateUp {
		t.Errorf("dependencies %v: want nats down, redis up", deps)
	}
	if got := h.do("GET", "/healthz", "").status; got != 200 {
		t.Errorf("after a check panicked, /healthz answers %d", got)
	}
}
