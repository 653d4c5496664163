package redisconn

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogRouterLimitsAndCounts(t *testing.T) {
	now := time.Unix(1e9, 0)
	r := NewLogRouter(func() time.Time { return now })
	ctx := context.Background()
	r.Printf(ctx, "dropped: no logger yet %d", 1)

	var buf bytes.Buffer
	r.Use(slog.New(slog.NewJSONHandler(&buf, nil)))
	lines := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			out = append(out, m)
		}
		return out
	}

	r.Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %v", 1, "refused")
	for i := 0; i < 500; i++ { // one request after another while Redis is down
		now = now.Add(time.Millisecond)
		r.Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %v", 1, "refused")
	}
	now = now.Add(LogEvery)
	r.Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %v", 1, "refused again")

	got := lines()
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(got), buf.String())
	}
	if got[0]["level"] != "WARN" || got[0]["msg"] != "redis: connection pool: failed to dial after 1 attempts: refused" ||
		got[0]["component"] != "go-redis" || got[0]["similar_lines_left_out"] != 1.0 {
		t.Errorf("first line %v (the line before any logger counts as left out)", got[0])
	}
	if got[1]["msg"] != "redis: connection pool: failed to dial after 1 attempts: refused again" || got[1]["similar_lines_left_out"] != 500.0 {
		t.Errorf("second line %v", got[1])
	}

	r.Use(nil)
	now = now.Add(LogEvery)
	r.Printf(ctx, "dropped: logger removed")
	if n := len(lines()); n != 2 {
		t.Errorf("%d lines after Use(nil), want 2", n)
	}
}
