package redisconn

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Evicting names the servers of c (every master of a Redis Cluster) that
// evict keys when their memory is full: a maxmemory set and a
// maxmemory-policy other than noeviction, read from INFO memory (which
// managed Redis services answer where CONFIG GET is refused). The ledger
// keeps caps, budgets, holds, per-customer windows and Idempotency-Keys in
// Redis: an evicted counter counts its cap again from zero (allkeys-*
// policies), an evicted window or claim grants again (volatile-*: they
// have a TTL). Each entry is "ADDRESS: POLICY (maxmemory N)"; none when
// every server keeps its keys. An error says a server could not be read.
func Evicting(ctx context.Context, c redis.UniversalClient) ([]string, error) {
	var mu sync.Mutex
	var out []string
	check := func(ctx context.Context, n *redis.Client) error {
		info, err := n.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("reading INFO memory of %s: %w", n.Options().Addr, err)
		}
		if policy, max, evicts := evicts(info); evicts {
			mu.Lock()
			out = append(out, fmt.Sprintf("%s: %s (maxmemory %d)", n.Options().Addr, policy, max))
			mu.Unlock()
		}
		return nil
	}
	var err error
	switch cl := c.(type) {
	case *redis.ClusterClient:
		err = cl.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, cl)
	default:
		return nil, fmt.Errorf("reading the eviction policy: a %T is neither a client nor a cluster client", c)
	}
	sort.Strings(out)
	return out, err
}

// evicts reads INFO memory's maxmemory_policy and maxmemory: whether the
// server evicts keys when full (a limit, and a policy that is not
// noeviction).
func evicts(info string) (policy string, max int64, yes bool) {
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "maxmemory_policy":
			policy = v
		case "maxmemory":
			max, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return policy, max, max > 0 && policy != "" && policy != "noeviction"
}
