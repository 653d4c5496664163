package redisconn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

// TestEvicting: a Redis that evicts keys when full (a maxmemory and any
// policy but noeviction) is named, so that serve can warn that caps,
// windows and Idempotency-Keys would be lost; one that keeps its keys, or
// has no limit, is not.
func TestEvicting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-servers")
	}
	for _, tc := range []struct {
		args []string
		want string // "" when it keeps its keys
	}{
		{[]string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}, "allkeys-lru (maxmemory 67108864)"},
		{[]string{"--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"}, "volatile-lru (maxmemory 67108864)"},
		{[]string{"--maxmemory", "64mb", "--maxmemory-policy", "noeviction"}, ""},
		{[]string{"--maxmemory-policy", "allkeys-lru"}, ""}, // no limit: nothing is evicted
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			srv := redistest.StartServer(t, tc.args...)
			c, err := redisconn.Open("redis://"+srv.Addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := redisconn.Evicting(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("named %v, want none", got)
			case tc.want != "" && (len(got) != 1 || got[0] != srv.Addr+": "+tc.want):
				t.Errorf("named %v, want %q", got, srv.Addr+": "+tc.want)
			}
		})
	}
}
