package main

import (
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

// TestServeWarnsWhenRedisEvicts: serve on a Redis that evicts keys when
// full (allkeys-lru, as many managed services are set up, or volatile-lru)
// says so at start, naming the server and what to set: evicted ledger keys
// count caps again from zero and grant windows and Idempotency-Keys again.
// On one that keeps its keys it says nothing. Before, nothing told the
// operator; only docs/budgets.md's last paragraph did.
func TestServeWarnsWhenRedisEvicts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts redis-servers")
	}
	const warning = "Redis evicts keys when its memory is full"
	for _, tc := range []struct {
		policy string
		warns  bool
	}{{"allkeys-lru", true}, {"noeviction", false}} {
		t.Run(tc.policy, func(t *testing.T) {
			srv := redistest.StartServer(t, "--maxmemory", "64mb", "--maxmemory-policy", tc.policy)
			sb := startServe(t, "--redis", "redis://"+srv.Addr, "--key-prefix", redistest.UniquePrefix(t))
			if tc.warns {
				poll(t, "the eviction warning", 10*time.Second, func() bool { return strings.Contains(sb.logs.String(), warning) })
				if logs := sb.logs.String(); !strings.Contains(logs, srv.Addr+": allkeys-lru") || !strings.Contains(logs, "noeviction") {
					t.Errorf("the warning names neither the server's policy nor what to set:\n%s", logs)
				}
			}
			sb.terminate(t, 10*time.Second)
			if got := strings.Contains(sb.logs.String(), warning); got != tc.warns {
				t.Errorf("warned %v, want %v:\n%s", got, tc.warns, sb.logs.String())
			}
		})
	}
}
