// Package redisconn opens Redis clients from URLs (a single server, TLS, a
// Redis Cluster or a Sentinel-managed master) with the time limits the
// decision path needs: a dead or slow Redis answers with an error within
// the timeout, never a hang, and never a wait on connection attempts.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/arbiterhq/arbiter/redact"
	"github.com/redis/go-redis/v9"
)

// DefaultTimeout is the default --redis-timeout: the dial, read and write
// time limit of every Redis operation on the decision path.
const DefaultTimeout = 20 * time.Millisecond

// Options tune a client beyond its URL.
type Options struct {
	// Timeout bounds dialing, reading and writing (and waiting for a pooled
	// connection); 0 means DefaultTimeout. Context deadlines shorter than it
	// also apply (ContextTimeoutEnabled).
	Timeout time.Duration
	// Retries is how many times a failed command is retried; 0 means none
	// (the decision path degrades instead of retrying). Tools such as
	// `profiles import` use a few.
	Retries int
	// PoolSize overrides go-redis's default pool size (10 per CPU) when > 0.
	PoolSize int
}

// Open returns a client for url with the decision path's settings: dial,
// read and write timeouts of timeout (DefaultTimeout when 0), context
// deadlines honoured, no retries, one dial attempt per connection, and a
// pool wait no longer than timeout. The URL forms (see docs/redis.md):
//
//	redis://[user:pass@]host:port[/db][?opts]         one server
//	rediss://[user:pass@]host:port[/db][?opts]        one server over TLS
//	redis+cluster://[user:pass@]h1:p1,h2:p2[?opts]    Redis Cluster (seed nodes; also rediss+cluster)
//	redis://h1:p1,h2:p2                               several addresses: Redis Cluster too
//	redis+sentinel://[user:pass@]s1:p1,s2:p2/master[/db][?opts]   a master found by Sentinel (also rediss+sentinel)
//
// Query options are go-redis's (pool_size, max_retries, ...); sentinel URLs
// also take sentinel_username and sentinel_password. The client is not
// connected yet: Open fails only on a malformed URL.
func Open(url string, timeout time.Duration) (redis.UniversalClient, error) {
	return OpenWith(url, Options{Timeout: timeout})
}

// OpenWith is Open with more options.
func OpenWith(rawURL string, o Options) (redis.UniversalClient, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	u, err := parseMultiHost(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w (write redis://host:6379, see docs/redis.md)", redact.URL(rawURL), err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if strings.Contains(u.Host, ",") {
			return openCluster(u, u.Scheme, o)
		}
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact.URL(rawURL), err)
		}
		tuneSingle(opt, o)
		return redis.NewClient(opt), nil
	case "redis+cluster", "rediss+cluster":
		return openCluster(u, strings.TrimSuffix(u.Scheme, "+cluster"), o)
	case "redis+sentinel", "rediss+sentinel":
		return openSentinel(u, o)
	case "":
		return nil, fmt.Errorf("redis URL %q has no scheme: write redis://%s", redact.URL(rawURL), rawURL)
	default:
		return nil, fmt.Errorf("redis URL %q: unknown scheme %q: write redis://, rediss://, redis+cluster:// or redis+sentinel://", redact.URL(rawURL), u.Scheme)
	}
}

// parseMultiHost is url.Parse that also accepts a comma-separated host
// list ("h1:p1,h2:p2"), which url.Parse rejects; u.Host keeps the list.
func parseMultiHost(raw string) (*url.URL, error) {
	i := strings.Index(raw, "://")
	if i < 0 || !strings.Contains(raw, ",") {
		return url.Parse(raw)
	}
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	at := strings.LastIndexByte(authority, '@')
	hosts := authority[at+1:]
	if !strings.Contains(hosts, ",") {
		return url.Parse(raw)
	}
	u, err := url.Parse(raw[:i+3] + authority[:at+1] + "placeholder" + rest[end:])
	if err != nil {
		return nil, err
	}
	u.Host = hosts
	return u, nil
}

func retries(o Options) int {
	if o.Retries <= 0 {
		return -1 // go-redis: -1 disables retries, 0 means its default of 3
	}
	return o.Retries
}

// limits points at the settings that bound a call, which go-redis's
// Options, ClusterOptions and FailoverOptions each have, so that every
// kind of client is bounded by --redis-timeout the same way.
type limits struct {
	dial, read, write, pool *time.Duration
	minBackoff              *time.Duration
	retries, poolSize       *int
	dialerRetries           *int
	contextTimeout          *bool
}

// tune fills the limits the URL left unset from o: timeouts, retries, pool
// size; one dial attempt per connection (go-redis otherwise retries dials
// five times, 100 ms apart) and context deadlines that really cancel.
// Without retries, no retry backoff either: the full-duplex autopipeliner
// waits it (8 ms, doubling up to 512 ms) after each failed dial, with every
// command that comes meanwhile, so that a down Redis cost each call 12-33
// ms instead of failing it at once (TestAutoPipelinedDownIsQuick).
func tune(l limits, o Options) {
	for _, d := range []*time.Duration{l.dial, l.read, l.write, l.pool} {
		if *d == 0 {
			*d = o.Timeout
		}
	}
	if *l.retries == 0 {
		*l.retries = retries(o)
	}
	if *l.retries < 0 && *l.minBackoff == 0 {
		*l.minBackoff = -1 // go-redis: -1 disables the backoff
	}
	if o.PoolSize > 0 {
		*l.poolSize = o.PoolSize
	}
	*l.dialerRetries = 1
	*l.contextTimeout = true
}

func tuneSingle(opt *redis.Options, o Options) {
	tune(limits{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff,
		&opt.MaxRetries, &opt.PoolSize, &opt.DialerRetries, &opt.ContextTimeoutEnabled}, o)
}

func openCluster(u *url.URL, scheme string, o Options) (redis.UniversalClient, error) {
	hosts := splitHosts(u.Host, "6379")
	if len(hosts) == 0 {
		return nil, fmt.Errorf("redis cluster URL %q names no node: write redis+cluster://host1:6379,host2:6379", u.Redacted())
	}
	// go-redis's ParseClusterURL takes the first node in the host and the
	// others as addr= parameters.
	cu := *u
	cu.Scheme = scheme
	cu.Host = hosts[0]
	q := cu.Query()
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	cu.RawQuery = q.Encode()
	opt, err := redis.ParseClusterURL(cu.String())
	if err != nil {
		return nil, fmt.Errorf("redis cluster URL %q: %w", u.Redacted(), err)
	}
	tune(limits{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff,
		&opt.MaxRetries, &opt.PoolSize, &opt.DialerRetries, &opt.ContextTimeoutEnabled}, o)
	if opt.ClusterStateReloadInterval == 0 {
		opt.ClusterStateReloadInterval = ClusterStateReload
	}
	cc := redis.NewClusterClient(opt)
	cc.AddHook(reloadOnFailure{cc})
	return cc, nil
}

// ClusterStateReload is how stale a Redis Cluster client's map of slots
// to masters may get while its calls succeed (go-redis's default: 60 s).
const ClusterStateReload = 5 * time.Second

// reloadOnFailure makes a cluster client reload its map of slots when a
// call fails without an answer from Redis (a refused or timed-out
// connection). go-redis reloads it on MOVED, but a master killed in a
// failover answers nothing: the client kept sending to it until its
// periodic reload (60 s by default; for ever in an earlier run), and
// capped offers were refused all along. The reload is lazy (one at a
// time, 200 ms apart), off the calling goroutine. Issue 13, item 9.
type reloadOnFailure struct{ c *redis.ClusterClient }

func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

// check reloads the slots' map after a failure that is not a reply of
// Redis (an error reply, or redis.Nil, says the node is alive).
func (h reloadOnFailure) check(err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return
	}
	h.c.ReloadState(context.Background())
}

func openSentinel(u *url.URL, o Options) (redis.UniversalClient, error) {
	hosts := splitHosts(u.Host, "26379")
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(hosts) == 0 || len(parts) == 0 || parts[0] == "" || len(parts) > 2 {
		return nil, fmt.Errorf("redis sentinel URL %q: write redis+sentinel://sentinel1:26379,sentinel2:26379/MASTER_NAME[/DB]", u.Redacted())
	}
	q := u.Query()
	if q.Get("replica_only") == "true" {
		return nil, errors.New("redis sentinel URL: replica_only is not supported: the ledger writes")
	}
	// The options are go-redis's, read by its own parser of failover URLs
	// (whose URL names the master in master_name and whose user is the
	// Sentinels'): an option it does not know is an error, as in the other
	// forms. Arbiter's own: the Sentinels' user and password.
	sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, k := range []string{"master_name", "addr", "db", "username", "password"} {
		if q.Has(k) {
			return nil, fmt.Errorf("redis sentinel URL %q: option %s: the URL says it (redis+sentinel://[user:pass@]s1:26379,s2:26379/MASTER_NAME[/DB])", u.Redacted(), k)
		}
	}
	q.Set("master_name", parts[0])
	scheme := "redis"
	if u.Scheme == "rediss+sentinel" {
		scheme = "rediss"
	}
	opt, err := redis.ParseFailoverURL((&url.URL{Scheme: scheme, Host: hosts[0], RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("redis sentinel URL %q: %w", u.Redacted(), err)
	}
	opt.SentinelAddrs = hosts
	opt.SentinelUsername, opt.SentinelPassword = sentinelUser, sentinelPass
	opt.DB = 0
	if len(parts) == 2 {
		db, err := strconv.Atoi(parts[1])
		if err != nil || db < 0 {
			return nil, fmt.Errorf("redis sentinel URL %q: database %q is not a number", u.Redacted(), parts[1])
		}
		opt.DB = db
	}
	opt.Username, opt.Password = "", ""
	if u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
	}
	if opt.PoolSize < 0 {
		return nil, fmt.Errorf("redis sentinel URL %q: pool_size %d is not a positive number", u.Redacted(), opt.PoolSize)
	}
	// The limits the URL left unset come from o.
	tune(limits{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff,
		&opt.MaxRetries, &opt.PoolSize, &opt.DialerRetries, &opt.ContextTimeoutEnabled}, o)
	return redis.NewFailoverClient(opt), nil
}

// splitHosts splits "h1:p1,h2,h3:p3" and adds the default port where none
// is given.
func splitHosts(s, defPort string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defPort)
		}
		out = append(out, h)
	}
	return out
}

// Embedded starts an in-process Redis (miniredis) on 127.0.0.1 and returns
// a client opened through Open with DefaultTimeout; stop closes both.
func Embedded() (client redis.UniversalClient, stop func(), err error) {
	c, _, stop, err := EmbeddedWith(Options{})
	return c, stop, err
}

// EmbeddedWith is Embedded with client options; it also returns the
// server, for tests and for loading profiles into it directly.
func EmbeddedWith(o Options) (client redis.UniversalClient, srv *miniredis.Miniredis, stop func(), err error) {
	srv = miniredis.NewMiniRedis()
	if err := srv.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	client, err = OpenWith("redis://"+srv.Addr(), o)
	if err != nil {
		srv.Close()
		return nil, nil, nil, err
	}
	stop = func() {
		_ = client.Close()
		srv.Close()
	}
	return client, srv, stop, nil
}
