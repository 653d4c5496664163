package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

// docKey is a row of docs/redis.md's key table: the keys it names (as
// patterns under the test's prefix), their Redis type and TTL.
type docKey struct {
	keys []string
	res  []*regexp.Regexp
	typ  string        // as TYPE answers: hash, zset, set, string
	ttl  string        // the TTL cell as written
	max  time.Duration // an upper bound of the TTL when the cell states one; 0 otherwise
	seen bool
}

// readRedisDoc reads the key table of docs/redis.md, its keys under
// prefix instead of "arbiter:".
func readRedisDoc(t *testing.T, prefix string) []*docKey {
	t.Helper()
	b, err := os.ReadFile("../../docs/redis.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "| key | type | TTL | written by | what |\n")
	if !ok {
		t.Fatal("docs/redis.md: no key table")
	}
	backq := regexp.MustCompile("`(arbiter:[^`]+)`")
	placeholder := regexp.MustCompile(`<[A-Z_]+>|[A-Z][A-Z_]+`)
	bound := regexp.MustCompile(`^(\d+) (minute|hour)s?$`)
	var out []*docKey
	for _, line := range strings.Split(table, "\n")[1:] {
		if !strings.HasPrefix(line, "| ") {
			break
		}
		cells := strings.Split(line, " | ")
		if len(cells) < 5 {
			t.Fatalf("docs/redis.md: a row of the key table has %d cells: %s", len(cells), line)
		}
		k := &docKey{ttl: cells[2]}
		// "|" inside a cell is written "\|".
		for _, m := range backq.FindAllStringSubmatch(strings.ReplaceAll(cells[0], `\|`, "|"), -1) {
			rest := strings.TrimPrefix(m[1], "arbiter:")
			k.keys = append(k.keys, prefix+rest)
			// Placeholders stand for one key part (no ':', no braces).
			re := "^" + regexp.QuoteMeta(prefix) + placeholder.ReplaceAllStringFunc(regexp.QuoteMeta(rest), func(string) string { return `[^:{}]+` }) + "$"
			k.res = append(k.res, regexp.MustCompile(re))
		}
		switch typ := strings.TrimSpace(cells[1]); {
		case strings.HasPrefix(typ, "hash"):
			k.typ = "hash"
		case strings.HasPrefix(typ, "sorted set"):
			k.typ = "zset"
		case strings.HasPrefix(typ, "set"):
			k.typ = "set"
		default: // strings, integers, a HyperLogLog, a bitmap
			k.typ = "string"
		}
		if m := bound.FindStringSubmatch(k.ttl); m != nil {
			n, _ := strconv.Atoi(m[1])
			k.max = time.Duration(n) * map[string]time.Duration{"minute": time.Minute, "hour": time.Hour}[m[2]]
		}
		out = append(out, k)
	}
	if len(out) < 10 {
		t.Fatalf("docs/redis.md: %d rows in the key table", len(out))
	}
	return out
}

// TestRedisKeysAsDocumented runs `arbiter serve` on a Redis and a NATS of
// the test's own prefixes, makes decisions (caps per customer with and
// without a window, a total, budgets, a hold, learning, an experiment, an
// Idempotency-Key) and outcomes (counted by the feedback consumer and the
// live experiment counters), and checks every key that appears against
// docs/redis.md's key table: documented, of the documented type, with the
// documented TTL; and every documented key this traffic writes appears.
func TestRedisKeysAsDocumented(t *testing.T) {
	redisURL := os.Getenv(redistest.EnvURL)
	if redisURL == "" {
		redisURL = "redis://" + redistest.StartServer(t).Addr
	}
	natsURL, _ := eventstest.URL(t)
	prefix := redistest.UniquePrefix(t)
	subjects := eventstest.Prefix(t, natsURL, "redislayout")
	client, err := redisconn.OpenWith(redisURL, redisconn.Options{Timeout: redistest.TestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		redistest.DeletePrefix(t, client, prefix)
		client.Close()
	})
	ctx := context.Background()
	if err := client.HSet(ctx, prefix+"profile:{c-1}", "ltv", "2000", "tier", "gold").Err(); err != nil {
		t.Fatal(err)
	}
	sb := startServeRules(t, "testdata/redislayout/rules", "--redis", redisURL, "--key-prefix", prefix,
		"--nats", natsURL, "--subject-prefix", subjects)

	post := func(path, body string, headers ...string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", sb.base+path, strings.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		if res.StatusCode/100 != 2 || json.Unmarshal(b, &m) != nil {
			t.Fatalf("POST %s %s: %d %s", path, body, res.StatusCode, b)
		}
		return m
	}
	var ids []string
	for i, c := range []string{"c-1", "c-2", "c-1"} {
		d := post("/v1/decide", `{"customer_id": "`+c+`", "placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "A", "price": 60, "quantity": 2}]}}`,
			"Idempotency-Key", "redis-layout-"+strconv.Itoa(i))
		ids = append(ids, d["decision_id"].(string))
	}
	doc := readRedisDoc(t, prefix)
	// The keys now (held grants), and again once the outcomes are counted
	// (a hold committed or released leaves no held set behind).
	check := func(when string) {
		t.Helper()
		var keys []string
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		sort.Strings(keys)
		for _, key := range keys {
			var row *docKey
			for _, k := range doc {
				for _, re := range k.res {
					if re.MatchString(key) {
						row = k
					}
				}
			}
			if row == nil {
				t.Errorf("%s: %s is not in docs/redis.md's key table", when, key)
				continue
			}
			row.seen = true
			typ, err := client.Type(ctx, key).Result()
			ttl, err2 := client.PTTL(ctx, key).Result()
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
			if typ != row.typ {
				t.Errorf("%s: %s is a %s, docs/redis.md says %s (%v)", when, key, typ, row.typ, row.keys)
			}
			switch none := strings.HasPrefix(row.ttl, "none"); {
			case none && ttl != -1*time.Millisecond && ttl != -1:
				t.Errorf("%s: %s expires in %v, docs/redis.md says %q", when, key, ttl, row.ttl)
			case !none && ttl <= 0:
				t.Errorf("%s: %s does not expire (%v), docs/redis.md says %q", when, key, ttl, row.ttl)
			case !none && row.max > 0 && ttl > row.max:
				t.Errorf("%s: %s expires in %v, docs/redis.md says %q", when, key, ttl, row.ttl)
			}
		}
	}
	check("after the decisions")

	for _, o := range []string{
		`{"decision_id": "` + ids[0] + `", "customer_id": "c-1", "offer_id": "held", "type": "converted", "value": 100, "currency": "USD", "id": "order-1"}`,
		`{"decision_id": "` + ids[1] + `", "customer_id": "c-2", "offer_id": "held", "type": "dismissed"}`,
		`{"decision_id": "` + ids[2] + `", "customer_id": "c-1", "type": "converted", "value": 50, "currency": "USD"}`,
		`{"decision_id": "` + ids[2] + `", "customer_id": "c-1", "offer_id": "budgeted", "type": "cancelled"}`,
		`{"decision_id": "` + ids[1] + `", "customer_id": "c-2", "offer_id": "forever", "type": "impression"}`,
		`{"decision_id": "` + ids[1] + `", "customer_id": "c-2", "offer_id": "forever", "type": "accepted"}`,
	} {
		post("/v1/outcomes", o)
	}
	// Every outcome of an offer counted by the feedback consumer (5), and
	// the decisions and the conversion by the experiment counters.
	poll(t, "the outcomes counted", 20*time.Second, func() bool {
		seen := 0
		for iter := client.Scan(ctx, 0, prefix+"stats:seen:*", 1000).Iterator(); iter.Next(ctx); {
			seen++
		}
		counts, _ := client.HGetAll(ctx, prefix+"xs:{experiments}:counts").Result()
		return seen == 5 && counts["holdout|served|d"] == "3" && counts["holdout|served|c"] == "1"
	})
	check("after the outcomes")
	// The live counters' revenue: the whole-decision conversion's 50.00 USD
	// in minor units, its square in major units (docs/redis.md).
	counts, err := client.HGetAll(ctx, prefix+"xs:{experiments}:counts").Result()
	if err != nil {
		t.Fatal(err)
	}
	if r, q := counts["holdout|served|r|USD"], counts["holdout|served|q|USD"]; r != "5000" || q != "2500" {
		t.Errorf("xs:{experiments}:counts: r %q, q %q; docs/redis.md says 5000 (minor units) and 2500 (the square in major units)", r, q)
	}

	// The documented keys this traffic does not write: what a call given
	// up on leaves, and what only the embedded servers hold.
	notWritten := map[string]bool{"tomb:": true, "embedded": true, ":batch:": true}
	for _, k := range doc {
		skip := false
		for s := range notWritten {
			skip = skip || strings.Contains(k.keys[0], s)
		}
		if !k.seen && !skip {
			t.Errorf("docs/redis.md documents %v; the server wrote no such key", k.keys)
		}
	}

	// The feedback statistics' counts are the documented ones
	// (docs/events.md, "Per-offer feedback statistics").
	events, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	_, stats, _ := strings.Cut(string(events), "| `arbiter:stats:offer:{OFFER_ID}` | hash |")
	stats, _, _ = strings.Cut(stats, "\n")
	for _, offer := range []string{"held", "budgeted", "forever"} {
		fields, err := client.HKeys(ctx, prefix+"stats:offer:{"+offer+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			if !strings.Contains(f, ":") && !strings.Contains(stats, "`"+f+"`") {
				t.Errorf("stats:offer:{%s} counts %q, docs/events.md's row does not say: %s", offer, f, stats)
			}
		}
	}
}
