package ledger

import (
	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
)

// redisconnOpen opens a client with a timeout generous enough for -race.
func redisconnOpen(url string) (redis.UniversalClient, error) {
	return redisconn.OpenWith(url, redisconn.Options{Timeout: 2e9})
}
