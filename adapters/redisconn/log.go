package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LogEvery is the least time between two of go-redis's own log lines that
// a LogRouter passes on.
const LogEvery = 10 * time.Second

// LogRouter sends go-redis's own log lines (such as "failed to dial", one
// per connection attempt while Redis is down, so one per request) to the
// slog logger last given to Use, as warnings, at most one every LogEvery,
// with the number of lines left out since the one before. Without a logger
// they are dropped. go-redis keeps one logger per process: Install the
// router once, from main, and give each command's logger to Use.
type LogRouter struct {
	mu      sync.Mutex
	l       *slog.Logger
	last    time.Time
	skipped int
	now     func() time.Time
}

// NewLogRouter returns a router with no logger yet; now is the clock (nil:
// time.Now).
func NewLogRouter(now func() time.Time) *LogRouter {
	if now == nil {
		now = time.Now
	}
	return &LogRouter{now: now}
}

// Install makes r go-redis's logger, for the whole process.
func (r *LogRouter) Install() { redis.SetLogger(r) }

// Use sends the lines to l from now on (nil: drop them).
func (r *LogRouter) Use(l *slog.Logger) {
	r.mu.Lock()
	r.l = l
	r.mu.Unlock()
}

// Printf is go-redis's logging interface.
func (r *LogRouter) Printf(ctx context.Context, format string, v ...any) {
	r.mu.Lock()
	l, now := r.l, r.now()
	if l == nil || !r.last.IsZero() && now.Sub(r.last) < LogEvery {
		r.skipped++
		r.mu.Unlock()
		return
	}
	skipped := r.skipped
	r.last, r.skipped = now, 0
	r.mu.Unlock()
	msg := fmt.Sprintf(format, v...)
	if skipped > 0 {
		l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"), slog.Int("similar_lines_left_out", skipped))
		return
	}
	l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"))
}
