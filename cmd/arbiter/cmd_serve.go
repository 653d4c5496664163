package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/adapters/expcounters"
	"github.com/arbiterhq/arbiter/adapters/feedback"
	"github.com/arbiterhq/arbiter/adapters/httpapi"
	"github.com/arbiterhq/arbiter/adapters/ledger"
	"github.com/arbiterhq/arbiter/adapters/metrics"
	"github.com/arbiterhq/arbiter/adapters/profilestore"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/console"
	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/redact"
	"github.com/arbiterhq/arbiter/rules"
)

// serveConfig is serve's configuration, from flags and ARBITER_*
// variables (a flag wins).
type serveConfig struct {
	rules           string
	addr            string
	redisURL        string
	natsURL         string
	profilesFile    string
	apiKeysFile     string
	noAuth          bool
	ui              bool
	maxBody         byteSize
	decisionTimeout time.Duration
	redisTimeout    time.Duration
	redisPipeline   string
	shutdownTimeout time.Duration
	drainDelay      time.Duration
	streamReplicas  int
	eventBuffer     int
	keyPrefix       string
	subjectPrefix   string
	logFormat       string
	logLevel        string
	cacheTTL        time.Duration
	cacheSize       int
	debugAddr       string
	allowShrink     bool
	gcHeapFloor     heapSize
	embeddedMemory  heapSize
	eventLinger     time.Duration
	procs           int
	grantsConfig
}

// Defaults of serve's flags.
const (
	defaultServeAddr = ":8080"
	defaultDemoAddr  = "127.0.0.1:8080"
	// defaultDrainDelay covers a load balancer's readiness probe period
	// (Kubernetes: 5 s by default, endpoints removed within a few
	// seconds).
	defaultDrainDelay = 5 * time.Second
)

// flagEnv names the environment variable of every flag of serve.
var serveEnv = map[string]string{
	"rules":                  "ARBITER_RULES",
	"addr":                   "ARBITER_ADDR",
	"redis":                  "ARBITER_REDIS_URL",
	"nats":                   "ARBITER_NATS_URL",
	"profiles":               "ARBITER_PROFILES",
	"api-keys-file":          "ARBITER_API_KEYS_FILE",
	"no-auth":                "ARBITER_NO_AUTH",
	"ui":                     "ARBITER_UI",
	"max-body":               "ARBITER_MAX_BODY",
	"decision-timeout":       "ARBITER_DECISION_TIMEOUT",
	"redis-timeout":          "ARBITER_REDIS_TIMEOUT",
	"redis-pipeline":         "ARBITER_REDIS_PIPELINE",
	"shutdown-timeout":       "ARBITER_SHUTDOWN_TIMEOUT",
	"drain-delay":            "ARBITER_DRAIN_DELAY",
	"event-buffer":           "ARBITER_EVENT_BUFFER",
	"key-prefix":             "ARBITER_KEY_PREFIX",
	"subject-prefix":         "ARBITER_SUBJECT_PREFIX",
	"log-format":             "ARBITER_LOG_FORMAT",
	"log-level":              "ARBITER_LOG_LEVEL",
	"profile-cache-ttl":      "ARBITER_PROFILE_CACHE_TTL",
	"profile-cache-size":     "ARBITER_PROFILE_CACHE_SIZE",
	"debug-addr":             "ARBITER_DEBUG_ADDR",
	"decision-key":           "ARBITER_DECISION_KEY",
	"attribution-window":     "ARBITER_ATTRIBUTION_WINDOW",
	"idempotency-ttl":        "ARBITER_IDEMPOTENCY_TTL",
	"ledger-replicas":        "ARBITER_LEDGER_REPLICAS",
	"stream-replicas":        "ARBITER_STREAM_REPLICAS",
	"allow-shrink":           "ARBITER_ALLOW_SHRINK",
	"gc-heap-floor":          "ARBITER_GC_HEAP_FLOOR",
	"embedded-stream-memory": "ARBITER_EMBEDDED_STREAM_MEMORY",
	"event-linger":           "ARBITER_EVENT_LINGER",
	"procs":                  "ARBITER_PROCS",
}

// heapSize is a flag of a memory size: 0 (off), 512MiB, 1GiB, 2G.
type heapSize int64

func (h *heapSize) String() string {
	n := int64(*h)
	switch {
	case n > 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10)
}

func (h *heapSize) Set(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"g", 1 << 30}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return fmt.Errorf("%q is not a memory size: write 0 (off) or a size with a unit (512MiB, 1GiB)", s)
	}
	*h = heapSize(n * mult)
	return nil
}

// byteSize is a flag of a size in bytes: 65536, 64KiB, 64k, 1MiB, 1M.
type byteSize int

func (b *byteSize) String() string {
	n := int(*b)
	switch {
	case n > 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n)
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := 1
	lower := strings.ToLower(t)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 || n > (1<<30)/mult {
		return fmt.Errorf("%q is not a size: write bytes (65536) or with a unit (64KiB, 1MiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// newServeFlags defines serve's flags on fs, filling cfg.
func newServeFlags(fs *flag.FlagSet, cfg *serveConfig) {
	cfg.maxBody = httpapi.DefaultMaxBody
	cfg.gcHeapFloor = defaultGCHeapFloor
	cfg.embeddedMemory = defaultEmbeddedStreamMemory
	fs.StringVar(&cfg.rules, "rules", "", "the rules `DIR` (required)")
	fs.StringVar(&cfg.addr, "addr", defaultServeAddr, "listen address `HOST:PORT`")
	fs.StringVar(&cfg.redisURL, "redis", "", "Redis `URL` (redis://, rediss://, redis+cluster://, redis+sentinel://); empty: an embedded in-process Redis")
	fs.StringVar(&cfg.natsURL, "nats", "", "NATS `URL`; empty: an embedded NATS server with JetStream on 127.0.0.1 (its URL is logged)")
	fs.StringVar(&cfg.profilesFile, "profiles", "", "`FILE.jsonl` of profiles to load into the embedded Redis (not with --redis: use arbiter profiles import)")
	fs.StringVar(&cfg.apiKeysFile, "api-keys-file", "", "`FILE` of API keys, one per line, each optionally followed by its scopes: KEY decide,read (decide, read, admin; none: all); blank lines and # comments ignored; ARBITER_API_KEYS also gives keys (all scopes), comma-separated")
	fs.BoolVar(&cfg.noAuth, "no-auth", false, "serve /v1/ without API keys")
	fs.BoolVar(&cfg.ui, "ui", true, "serve the browser console at /ui/ (docs/console.md); --ui=false turns it off")
	fs.Var(&cfg.maxBody, "max-body", "request body `SIZE` limit (413 payload_too_large above it)")
	fs.Var(&cfg.gcHeapFloor, "gc-heap-floor", "a heap `SIZE` under which the garbage collector does not run while 5 times the live heap is less (at most 3/4 of the memory limit: GOMEMLIMIT, else 90% of the container's); 0 (default): GOGC=400 within the memory limit; GOGC set: the operator's pacing (docs/operations.md)")
	fs.Var(&cfg.embeddedMemory, "embedded-stream-memory", "without --nats: the embedded NATS server keeps its event stream in memory, at most `SIZE` (the oldest events go first; 64MiB holds about 45,000 decisions); 0: in files in a temporary directory, 7 days or until exit (docs/events.md)")
	fs.DurationVar(&cfg.eventLinger, "event-linger", defaultEventLinger, "how long an event that finds the publisher idle waits for others to go with it (decisions never wait for it); 0: sent at once")
	fs.IntVar(&cfg.procs, "procs", 0, "`N` processors of the Go scheduler (GOMAXPROCS); 0: the GOMAXPROCS environment variable when set, else without --nats twice the CPUs Go finds (the embedded NATS server's goroutines would keep requests waiting: docs/operations.md), with --nats the CPUs Go finds")
	fs.DurationVar(&cfg.decisionTimeout, "decision-timeout", httpapi.DefaultDecisionTimeout, "deadline of a whole decision")
	fs.DurationVar(&cfg.redisTimeout, "redis-timeout", engine.DefaultProfileTimeout, "deadline of a Redis call (profile fetch, ledger)")
	fs.StringVar(&cfg.redisPipeline, "redis-pipeline", redisconn.FullDuplex, "`MODE` of the pipeline that concurrent decisions' profile fetches and ledger scripts share: full-duplex (a command goes out as it comes) or half-duplex (go-redis's default: a batch, its replies, then the next; docs/redis.md)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "bound of the whole graceful shutdown from SIGTERM to exit (drain, finish requests, flush events)")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", defaultDrainDelay, "after SIGTERM, how long to keep answering with /readyz at 503 and every answer closing its connection, before stopping; part of --shutdown-timeout")
	fs.IntVar(&cfg.eventBuffer, "event-buffer", events.DefaultBuffer, "events held while NATS is slow or down; beyond, they are dropped and counted")
	fs.StringVar(&cfg.keyPrefix, "key-prefix", "arbiter:", "prefix of every Redis key")
	fs.StringVar(&cfg.subjectPrefix, "subject-prefix", events.DefaultPrefix, "prefix of every NATS subject")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&cfg.cacheTTL, "profile-cache-ttl", profilestore.DefaultCacheTTL, "how long a profile is cached in process (0: no cache)")
	fs.IntVar(&cfg.cacheSize, "profile-cache-size", 100000, "profiles held in the in-process cache")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "listen `HOST:PORT` for Go's profiler (/debug/pprof/) on a listener of its own; empty: off. Keep it on loopback")
	cfg.attributionWindow = longDuration(attribution.DefaultWindow)
	fs.StringVar(&cfg.decisionKey, "decision-key", "", "`KEYS` that sign decision ids, comma-separated: the first signs, all verify (rotation); the same on every replica; empty: a random key of this process")
	fs.Var(&cfg.attributionWindow, "attribution-window", "`DURATION` after a decision within which its outcomes count (and its grant records are kept): 7d, 36h")
	fs.DurationVar(&cfg.idempotencyTTL, "idempotency-ttl", httpapi.DefaultIdempotencyTTL, "how long an Idempotency-Key of POST /v1/decide is remembered")
	fs.BoolVar(&cfg.allowShrink, "allow-shrink", false, "serve a reload that drops more than half of the offers in force (by default it is held back: docs/rules.md)")
	fs.IntVar(&cfg.streamReplicas, "stream-replicas", 0, "`N`: copies of the JetStream stream on a NATS cluster: a new stream is created with N, an existing one with another count is changed to N; 0: 1 on create, an existing stream left as it is")
	fs.IntVar(&cfg.ledgerReplicas, "ledger-replicas", 0, "`N`: each ledger call waits (Redis WAIT, same round trip) until N replicas have it, else grants nothing capped; 0: do not wait (docs/operations.md)")
}

// applyEnv sets every flag not given on the command line from its
// environment variable, when that is set.
func applyEnv(fs *flag.FlagSet, env map[string]string, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name, ok := env[f.Name]
		if !ok || given[f.Name] || err != nil {
			return
		}
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q (--%s): %s", name, v, f.Name, withHint(f, e.Error()))
			}
		}
	})
	return err
}

// printFlags lists every flag with its default and its variable.
func printFlags(w io.Writer, fs *flag.FlagSet, env map[string]string) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if arg != "" && arg != "value" {
			head += " " + arg
		} else if arg == "value" {
			head += " SIZE"
		}
		var extra []string
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			extra = append(extra, "default "+f.DefValue)
		}
		if e, ok := env[f.Name]; ok {
			extra = append(extra, "$"+e)
		}
		if len(extra) > 0 {
			usage += " (" + strings.Join(extra, "; ") + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", head, usage)
	})
}

func cmdServe(ctx context.Context, args []string, s stdio) int {
	var cfg serveConfig
	c := newSubcommand("arbiter serve", "", s)
	fs := c.fs
	newServeFlags(fs, &cfg)
	c.help = func(w io.Writer) {
		fmt.Fprintln(w, "Usage: arbiter serve --rules DIR [flags]")
		fmt.Fprintln(w, "\nServes decisions over HTTP (docs/api.md, docs/operations.md). Every flag also reads")
		fmt.Fprintln(w, "from its environment variable; a flag wins over the environment.")
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, fs, serveEnv)
		fmt.Fprintln(w, "\nEnvironment only:\n  ARBITER_API_KEYS\n      API keys, comma-separated (with or instead of --api-keys-file)")
	}
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	usageErr := c.usageErr
	if len(pos) > 0 {
		return usageErr(fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	if err := applyEnv(fs, serveEnv, os.Getenv); err != nil {
		return usageErr(err.Error())
	}
	if cfg.rules == "" {
		return usageErr("--rules DIR is required (or ARBITER_RULES)")
	}
	if cfg.decisionKey != "" {
		if _, err := decisionid.ParseKeys(cfg.decisionKey); err != nil {
			return usageErr("--decision-key (ARBITER_DECISION_KEY): " + err.Error())
		}
	}
	if cfg.ledgerReplicas < 0 {
		return usageErr("--ledger-replicas must be 0 or more")
	}
	if cfg.redisPipeline != redisconn.FullDuplex && cfg.redisPipeline != redisconn.HalfDuplex {
		return usageErr(fmt.Sprintf("--redis-pipeline %q: write %s (the default) or %s", cfg.redisPipeline, redisconn.FullDuplex, redisconn.HalfDuplex))
	}
	if cfg.streamReplicas < 0 {
		return usageErr("--stream-replicas must be 0 or more")
	}
	if cfg.procs < 0 {
		return usageErr(fmt.Sprintf("--procs %d: write 0 (the default) or a number of processors, such as 4", cfg.procs))
	}
	if cfg.streamReplicas > 1 && cfg.natsURL == "" {
		return usageErr(fmt.Sprintf("--stream-replicas %d needs a NATS cluster: give --nats URL (the embedded NATS is one server)", cfg.streamReplicas))
	}
	if strings.ContainsAny(cfg.keyPrefix, "{}") {
		return usageErr(fmt.Sprintf("--key-prefix %q must not contain '{' or '}': the keys' braces are Redis Cluster hash tags", cfg.keyPrefix))
	}
	if err := cfg.checkShutdown(given(fs, "drain-delay")); err != nil {
		return usageErr(err.Error())
	}
	if cfg.profilesFile != "" && cfg.redisURL != "" {
		return usageErr("--profiles loads the embedded Redis; to load a Redis server, run arbiter profiles import --redis URL FILE.jsonl")
	}
	logger, err := newLogger(s.Err, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return usageErr(err.Error())
	}
	s.useLogger(logger)
	keys, err := loadAPIKeys(cfg.apiKeysFile, os.Getenv("ARBITER_API_KEYS"))
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
		return exitFail
	}
	if len(keys) == 0 && !cfg.noAuth {
		return usageErr("no API keys: give --api-keys-file FILE or ARBITER_API_KEYS, or --no-auth to serve without them")
	}
	if cfg.noAuth {
		keys = nil
	}
	rl := rulesSource{dir: cfg.rules, watch: true}
	var preload preloadFunc
	if cfg.profilesFile != "" {
		path := cfg.profilesFile
		preload = func() (io.ReadCloser, string, error) {
			f, err := os.Open(path)
			return f, path, err
		}
	}
	return runServer(ctx, cfg, keys, rl, preload, nil, s, logger)
}

// given reports whether the flag name was set (on the command line or
// from its variable).
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkShutdown checks --shutdown-timeout and --drain-delay together. A
// drain delay left at its default takes at most half of a shorter
// shutdown timeout.
func (cfg *serveConfig) checkShutdown(drainGiven bool) error {
	if cfg.shutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout %v: give a positive duration (10s)", cfg.shutdownTimeout)
	}
	if !drainGiven {
		cfg.drainDelay = min(cfg.drainDelay, cfg.shutdownTimeout/2)
	}
	if cfg.drainDelay < 0 || cfg.drainDelay >= cfg.shutdownTimeout {
		return fmt.Errorf("--drain-delay %v must be 0 or more and less than --shutdown-timeout %v (the drain is part of it): e.g. --drain-delay 5s --shutdown-timeout 15s",
			cfg.drainDelay, cfg.shutdownTimeout)
	}
	return nil
}

// rulesSource says where the rules come from: a directory (watched) or an
// embedded file system (not watched).
type rulesSource struct {
	dir   string
	fsys  fs.FS
	name  string // shown as the source when fsys is set
	watch bool
}

// preloadFunc gives the profiles to load into the embedded Redis at start,
// in JSONL (the format of arbiter profiles import), and their name for
// errors ("FILE:LINE: ...").
type preloadFunc func() (jsonl io.ReadCloser, name string, err error)

// banner is told what runs once the server listens (the demo prints it).
type banner func(info runInfo)

// runInfo is what runs.
type runInfo struct {
	addr   string
	rules  *rulefiles.Snapshot
	redis  string
	nats   string
	engine *engine.Engine
	client redis.UniversalClient
	ui     bool // the console is served at /ui/
}

// uiAssets is the console's assets when on is set (--ui), else nil.
func uiAssets(on bool) fs.FS {
	if !on {
		return nil
	}
	return console.Assets()
}

// runServer runs the server until ctx is cancelled, then shuts down
// gracefully: stop accepting, finish in-flight requests, flush events.
func runServer(ctx context.Context, cfg serveConfig, keys []httpapi.APIKey, src rulesSource,
	preload preloadFunc, show banner, s stdio, log *slog.Logger) int {
	if n, why := chooseProcs(cfg.procs, cfg.natsURL == "", os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n > 0 {
		prev := runtime.GOMAXPROCS(n)
		defer runtime.GOMAXPROCS(prev) // for a server run inside another program (tests)
		log.Info("scheduler", "gomaxprocs", n, "why", why)
	} else {
		log.Debug("scheduler", "gomaxprocs", runtime.GOMAXPROCS(0), "why", why)
	}
	gcCtx, stopGC := context.WithCancel(context.Background())
	defer stopGC()
	go newGCTuner(int64(cfg.gcHeapFloor), log).Run(gcCtx)
	m := metrics.New()
	// The shutdown's deadline: --shutdown-timeout after the signal. Every
	// step of the stop, deferred ones included, waits at most until then.
	var sd shutdownDeadline

	// The sink is set once NATS is up; reloads before that are not published.
	var sink atomic.Pointer[events.Publisher]
	// Learning follows the ruleset in force once it is started.
	var learn atomic.Pointer[learningWiring]
	onReload := httpapi.RecordReload(m)
	loadOpt := rulefiles.Options{Logger: log, AllowShrink: cfg.allowShrink, OnReload: func(r rulefiles.Result) {
		onReload(r)
		if l := learn.Load(); l != nil && r.Snapshot != nil {
			l.configure(r.Snapshot.Ruleset)
		}
		if p := sink.Load(); p != nil {
			prev := ""
			if r.Previous != nil {
				prev = r.Previous.Ruleset.Version
			}
			var cur *rules.Ruleset
			if r.Snapshot != nil {
				cur = r.Snapshot.Ruleset
			}
			publishReloaded(p, log, time.Now(), cur, prev, r.Err)
			if r.Err == nil && cur != nil {
				p.KeepRuleset(cur.Version, r.Snapshot.Files) // ARBITER_RULESETS, for replays
			}
		}
	}}
	dir := src.dir
	if src.fsys != nil {
		fsys := src.fsys
		loadOpt.Read = func() ([]rules.File, error) { return rulefiles.ReadFS(fsys) }
		dir = src.name
	}
	reloader := rulefiles.New(dir, loadOpt)
	// SIGHUP reloads once the server runs (one that comes earlier is kept
	// for then). It is caught from here to the return: Go's default for
	// SIGHUP ends the process, which killed a server that a rules sidecar
	// asked to reload while it started or drained, its events unflushed.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	snap, err := reloader.Reload(rulefiles.TriggerStart)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: the rules in %s do not load:\n%v\n", dir, err)
		return exitFail
	}

	// The address is taken before Redis and NATS are touched: a port in
	// use stops the start at once, saying so, without publishing anything
	// or waiting for a NATS that is down to flush the start-up event (it
	// waited for ever). Connections that come before the server answers
	// wait in the listen queue.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: listening on %s: %v\n", cfg.addr, err)
		return exitFail
	}
	defer ln.Close() // a failed start; Serve and Shutdown close it otherwise

	// Redis: the configured server, or an embedded one.
	var client redis.UniversalClient
	var embeddedExists func(key string) bool
	var embedded profilestore.LocalRedis
	redisDesc, embeddedURL := cfg.redisURL, ""
	if cfg.redisURL != "" {
		client, err = redisconn.Open(cfg.redisURL, cfg.redisTimeout)
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
			return exitFail
		}
		defer client.Close()
	} else {
		c, srv, stop, err := redisconn.EmbeddedWith(redisconn.Options{Timeout: cfg.redisTimeout})
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
			return exitFail
		}
		defer stop()
		client = c
		// Unknown customers are told from the embedded Redis's own keys,
		// in process, without a round trip (profilestore.StoreOptions.Exists).
		embeddedExists, embedded = srv.Exists, srv
		embeddedURL = "redis://" + srv.Addr()
		redisDesc = "embedded " + embeddedURL
		log.Info("embedded Redis started", "url", "redis://"+srv.Addr())
	}
	if preload != nil {
		n, err := loadProfiles(ctx, embeddedURL, embedded, cfg.keyPrefix, &snap.Ruleset.Schema, preload)
		if err != nil && ctx.Err() != nil {
			// SIGTERM or Ctrl-C while the profiles load: a clean stop.
			log.Info("stopped during the start", "while", "loading profiles")
			return exitOK
		}
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter serve: loading profiles: %v\n", err)
			return exitFail
		}
		log.Info("profiles loaded into the embedded Redis", "count", n)
	}

	// NATS: the configured server, or an embedded one.
	natsURL := cfg.natsURL
	pubOpts := events.Options{Prefix: cfg.subjectPrefix, Buffer: cfg.eventBuffer, Logger: log, Replicas: cfg.streamReplicas, Linger: cfg.eventLinger}
	if natsURL == "" {
		// The embedded server lives in this process: its connection does
		// not drop, and it acknowledges within a millisecond, so an event
		// is sent again only after an ack timeout of a second
		// (events.EmbeddedAckTimeout). A short deduplication window
		// covers that, and keeps the server's table of recent ids (in this
		// process's heap, marked by every GC) small: at 16,000 events/s
		// the default 2 minutes would hold 1.9 million,
		// events.EmbeddedDuplicates (2 s) 32,000.
		pubOpts.Duplicates, pubOpts.AckTimeout = events.EmbeddedDuplicates, events.EmbeddedAckTimeout
		// Its stream is kept in memory by default
		// (defaultEmbeddedStreamMemory). In files it is written
		// synchronously: JetStream's asynchronous persistence
		// (events.Options.AsyncPersist) saved about a quarter of the CPU
		// an event in bursts (BenchmarkPublishEmbedded), but in scenario a
		// the file store then kept 104 MB of block buffers in the heap
		// against 24 MB (BENCHMARKS.md, issue 19).
		if cfg.embeddedMemory > 0 {
			pubOpts.Memory, pubOpts.MaxBytes = true, int64(cfg.embeddedMemory)
		}
		storeDir, err := os.MkdirTemp("", "arbiter-nats-")
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
			return exitFail
		}
		defer os.RemoveAll(storeDir)
		emb, err := events.StartEmbeddedWith(events.EmbeddedOptions{StoreDir: storeDir, MaxMemory: int64(cfg.embeddedMemory)})
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
			return exitFail
		}
		defer emb.Stop()
		natsURL = emb.URL
		// Events reach the embedded server without a socket: no system
		// call on either side for each batch.
		pubOpts.InProcess = emb
		log.Info("embedded NATS with JetStream started", "url", emb.URL)
	}
	// With both servers in this process, the live counters count each
	// decision as the stream acknowledges it, instead of reading it back
	// (expcounters.Published: a fifth of the CPU of scenario a).
	var published *expcounters.Published
	pubWith := pubOpts
	if cfg.natsURL == "" && cfg.redisURL == "" {
		published = expcounters.NewPublished()
		pubWith.Stored = published.Stored
	}
	pub, err := events.NewPublisher(ctx, natsURL, pubWith)
	if err != nil && ctx.Err() != nil {
		log.Info("stopped during the start", "while", "starting the event publisher")
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
		return exitFail
	}
	m.EventStatsFunc(func() metrics.EventStats {
		st := pub.Stats()
		return metrics.EventStats{Published: st.Published, Buffered: st.Buffered, Dropped: st.Dropped, Truncated: st.Truncated, Resent: st.Resent, Parked: st.Parked}
	})
	sink.Store(pub)
	publishReloaded(pub, log, snap.LoadedAt, snap.Ruleset, "", nil)
	pub.KeepRuleset(snap.Ruleset.Version, snap.Files)

	// Caps and budgets: the Redis ledger, one round trip per decision. With
	// the embedded Redis there is one process and so one replica: the
	// reference in-memory ledger (package memledger) counts the same caps without running
	// the Lua walk in miniredis's interpreter (measured: 29% of the server's
	// CPU in BENCHMARKS.md's scenario a before this choice).
	checker, err := cfg.checkerOf(cfg.redisURL == "", log)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
		return exitFail
	}
	var led interface {
		engine.Ledger
		httpapi.Grants
	}
	if cfg.redisURL == "" {
		ml := memledger.NewWithOptions(memledger.Options{RecordTTL: time.Duration(cfg.attributionWindow)})
		m.LedgerStatsFunc(func() metrics.LedgerStats {
			st := ml.Stats()
			return metrics.LedgerStats{Holds: st.Holds, Expiries: st.Expiries}
		})
		led = ml
		log.Info("caps and budgets are counted in process (embedded Redis: one replica)")
	} else {
		rl := ledger.NewWithOptions(client, ledger.Options{Prefix: cfg.keyPrefix, RecordTTL: time.Duration(cfg.attributionWindow),
			Replicas: cfg.ledgerReplicas, Logger: log, AutoPipeline: redisconn.AutoPipelinedMode(client, cfg.redisPipeline)})
		// Background releases and undos finish before exit, within the
		// shutdown's bound.
		defer func() { rl.WaitTimeout(sd.left()) }()
		m.LedgerStatsFunc(func() metrics.LedgerStats {
			st := rl.Stats()
			return metrics.LedgerStats{Holds: st.Holds, Expiries: st.Expiries, Undone: st.Undone}
		})
		led = rl
		go warnEvicting(client, log)
	}

	// The profile source: the Redis store behind the in-process cache.
	// Concurrent decisions' fetches share round trips (auto-pipelined).
	store := profilestore.NewRedisStore(redisconn.AutoPipelinedMode(client, cfg.redisPipeline), profilestore.StoreOptions{Prefix: cfg.keyPrefix, Timeout: cfg.redisTimeout,
		Exists: embeddedExists})
	m.ProfileStatsFunc(func() metrics.ProfileStats { return metrics.ProfileStats{BadFields: store.Stats().BadFields} })
	var source engine.ProfileSource = store
	if cfg.cacheTTL > 0 {
		neg := profilestore.DefaultNegativeTTL
		if cfg.cacheTTL < neg {
			neg = cfg.cacheTTL
		}
		cache := profilestore.NewCache(store, profilestore.CacheOptions{MaxEntries: cfg.cacheSize, TTL: cfg.cacheTTL, NegativeTTL: neg})
		m.CacheStatsFunc(cache.Stats)
		source = cache
	}
	// Learning: the statistics the ledger counts, reloaded in the background.
	lw := startLearning(led, snap.Ruleset, m, log)
	learn.Store(lw)
	if cur := reloader.Current(); cur != nil {
		lw.configure(cur.Ruleset) // a reload between the start and now
	}
	defer func() { lw.stop(); sd.wait(lw.done, "the learning refresher", log) }()
	eng := engine.New(engine.Options{Ledger: led, Observer: m, Profiles: source, ProfileTimeout: cfg.redisTimeout, Logger: log,
		Statistics: lw.statistics(), Trials: lw.recent})

	// Per-offer feedback statistics, from the outcome events on the stream
	// (the HTTP route's and other services' alike), off the decision path.
	fbCtx, stopFeedback := context.WithCancel(context.Background())
	fbDone := make(chan struct{})
	go func() {
		defer close(fbDone)
		rec := feedback.NewRecorder(client, cfg.keyPrefix)
		check := &feedback.GrantChecker{Attribution: checker, Grants: led,
			Rules: func() *rules.Ruleset {
				if snap := reloader.Current(); snap != nil {
					return snap.Ruleset
				}
				return nil
			},
			Refused: m.StreamOutcomeRefused, Applied: m.GrantTransitions}
		if err := feedback.ConsumeChecked(fbCtx, natsURL, pubOpts, rec, check, log); err != nil && fbCtx.Err() == nil {
			log.Warn("feedback statistics stopped", "error", err.Error())
		}
	}()
	defer func() { stopFeedback(); sd.wait(fbDone, "the feedback consumer", log) }()

	// Live experiment counters for GET /v1/experiments, from the decision
	// and outcome events, off the decision path.
	// The counters count up to hundreds of events in one script call:
	// tens of milliseconds under load, past a decision's --redis-timeout
	// (in scenario d, 3 of 2,056 calls failed at 20 ms and were counted
	// again 2 s later; with the embedded servers, whose decisions wait in
	// memory rather than in a stream, one such failure left 4,451
	// uncounted). A client of their own, with a timeout meant for a batch.
	countersURL := cfg.redisURL
	if countersURL == "" {
		countersURL = embeddedURL
	}
	countersClient, err := redisconn.OpenWith(countersURL, redisconn.Options{Timeout: countersTimeout})
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
		return exitFail
	}
	defer countersClient.Close()
	counters := expcounters.New(countersClient, cfg.keyPrefix)
	// The embedded NATS server is this process's alone: its counters
	// acknowledge a batch at once.
	counters.SingleReader = cfg.natsURL == ""
	counters.DecisionsPublished = published != nil
	counters.HoldoutOf = func(id string) bool {
		snap := reloader.Current()
		return snap != nil && engine.InHoldout(snap.Ruleset, id)
	}
	counters.Attribute = expcounters.Attributed(checker, func() *rules.Ruleset {
		if snap := reloader.Current(); snap != nil {
			return snap.Ruleset
		}
		return nil
	})
	xcDone := make(chan struct{})
	go func() {
		defer close(xcDone)
		if published != nil {
			countDone := make(chan struct{})
			go func() { defer close(countDone); published.Count(fbCtx, counters, log) }()
			defer func() { <-countDone }()
		}
		if err := expcounters.Consume(fbCtx, natsURL, pubOpts, counters, log); err != nil && fbCtx.Err() == nil {
			log.Warn("experiment counters stopped", "error", err.Error())
		}
	}()
	defer func() { stopFeedback(); sd.wait(xcDone, "the experiment counters", log) }()

	checks := map[string]httpapi.Check{
		"redis": func(ctx context.Context) error { return client.Ping(ctx).Err() },
		"nats":  natsCheck(pub),
	}
	srv, err := httpapi.New(httpapi.Options{
		Rules: reloader, Engine: eng, Sink: pub, Metrics: m, Logger: log,
		Keys: keys, MaxBody: int(cfg.maxBody), DecisionTimeout: cfg.decisionTimeout,
		Checks: checks, Checker: checker, Grants: led, IdempotencyTTL: cfg.idempotencyTTL, Learning: lw.sources(), Experiments: counters,
		Profiles: store, UI: uiAssets(cfg.ui), LocalOnly: localOnly(cfg),
	})
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter serve: %v\n", err)
		return exitFail
	}

	watchCtx, stopWatch := context.WithCancel(context.Background())
	var watchDone <-chan struct{}
	if src.watch && src.fsys == nil {
		watchDone, err = reloader.Watch(watchCtx)
		if err != nil {
			log.Warn("not watching the rules directory; reload with SIGHUP or POST /v1/rules/reload", "error", err.Error())
		}
	}
	go func() {
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-hup:
				_, _ = reloader.Reload(rulefiles.TriggerSignal)
			}
		}
	}()

	if cfg.debugAddr != "" {
		stopDebug, err := serveDebug(cfg.debugAddr, log)
		if err != nil {
			stopWatch()
			fmt.Fprintf(s.Err, "arbiter serve: --debug-addr: %v\n", err)
			return exitFail
		}
		defer stopDebug()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	auth := "api keys"
	if len(keys) == 0 {
		auth = "none (--no-auth)"
	}
	if embedded != nil {
		// Learning is counted in this process (memledger), not in the
		// embedded Redis: the server names itself there, so that `arbiter
		// learning reset` on this Redis says where the statistics are
		// instead of deleting nothing.
		embedded.HSet(embeddedServerKey(cfg.keyPrefix), "pid", strconv.Itoa(os.Getpid()), "addr", ln.Addr().String())
	}
	log.Info("arbiter serving", "addr", ln.Addr().String(), "rules", dir, "version", snap.Ruleset.Version,
		"redis", redact.URL(redisDesc), "nats", redact.URL(natsURL), "auth", auth, "api_keys", len(keys))
	if cfg.ui {
		log.Info("console", "url", "http://"+ln.Addr().String()+"/ui/")
	}
	if show != nil {
		show(runInfo{addr: ln.Addr().String(), rules: snap, redis: redisDesc, nats: natsURL, engine: eng, client: client, ui: cfg.ui})
	}

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			log.Error("the HTTP server stopped", "error", err.Error())
			code = exitFail
		}
	}
	sd.start(cfg.shutdownTimeout)
	if cfg.drainDelay > 0 && code == exitOK {
		// Not ready, still answering: load balancers take this replica
		// out, and every keep-alive connection closes after its answer.
		log.Info("draining: /readyz answers 503, each connection closes after its answer",
			"drain_delay", cfg.drainDelay.String(), "timeout", cfg.shutdownTimeout.String())
		srv.Drain()
		select {
		case <-time.After(cfg.drainDelay):
		case err := <-serveErr:
			if err != nil {
				log.Error("the HTTP server stopped", "error", err.Error())
				code = exitFail
			}
		}
	}
	srv.Drain() // the answers still in flight close their connections too
	log.Info("shutting down", "timeout_left", sd.left().Round(time.Millisecond).String())
	sctx, cancel := context.WithDeadline(context.Background(), sd.at)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at the shutdown timeout", "error", err.Error())
	}
	stopWatch()
	if watchDone != nil {
		sd.wait(watchDone, "the rules watcher", log)
	}
	// The background consumers stop while the events flush: a flush that
	// takes all the time left (NATS down or hung) leaves them none after it.
	stopFeedback()
	lw.stop()
	dropped := pub.Stats().Dropped
	if err := pub.Close(sctx); err != nil {
		log.Warn("events not flushed at the shutdown timeout", "error", err.Error(), "lost", pub.Stats().Dropped-dropped)
	}
	log.Info("stopped")
	return code
}

// shutdownDeadline is the moment by which a stop must be over.
type shutdownDeadline struct{ at time.Time }

// start sets the deadline from now: timeout less a tenth of it (at most
// 500 ms), kept for what runs after the last bounded step (closing
// clients, the embedded servers, the process's exit), so that the whole
// stop stays within timeout.
func (d *shutdownDeadline) start(timeout time.Duration) {
	d.at = time.Now().Add(timeout - min(timeout/10, 500*time.Millisecond))
}

// left is the time left until the deadline (0 before start: a failed
// start waits for nothing).
func (d *shutdownDeadline) left() time.Duration {
	if d.at.IsZero() {
		return 0
	}
	return max(time.Until(d.at), 0)
}

// wait waits for done until the deadline; past it, it logs what it left
// running.
func (d *shutdownDeadline) wait(done <-chan struct{}, what string, log *slog.Logger) {
	if d.at.IsZero() {
		<-done
		return
	}
	select {
	case <-done: // already stopped: not a coin toss with a timer at 0
		return
	default:
	}
	t := time.NewTimer(d.left())
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		log.Warn(what+" had not stopped at the shutdown timeout; exiting without it", "timeout_passed", true)
	}
}

// natsCheck reports NATS's state for /readyz when the publisher can tell
// (a Connected() bool method); otherwise the event backlog.
func natsCheck(pub *events.Publisher) httpapi.Check {
	var p any = pub
	if c, ok := p.(interface{ Connected() bool }); ok {
		return func(context.Context) error {
			if !c.Connected() {
				return errors.New("disconnected; events are buffered")
			}
			return nil
		}
	}
	return func(context.Context) error {
		if st := pub.Stats(); st.Buffered > 0 {
			return fmt.Errorf("%d events waiting to be published", st.Buffered)
		}
		return nil
	}
}

// newLogger returns the slog logger of --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// localOnly: a server without keys listening on loopback (arbiter demo,
// serve --no-auth --addr 127.0.0.1:...) answers only requests addressed to
// a loopback name (httpapi.Options.LocalOnly), so that a web page cannot
// reach it by making its own name resolve to 127.0.0.1.
func localOnly(cfg serveConfig) bool {
	host, _, err := splitHost(cfg.addr)
	return cfg.noAuth && err == nil && isLoopback(host)
}

// loadAPIKeys reads the keys file and the comma-separated
// ARBITER_API_KEYS. A line of the file is a key, optionally followed by
// whitespace and its comma-separated scopes (decide, read, admin; none
// written: all three); blank lines and lines starting with # are ignored.
// An unknown scope is an error naming the file and line. The keys of
// ARBITER_API_KEYS have every scope.
func loadAPIKeys(file, env string) ([]httpapi.APIKey, error) {
	var keys []httpapi.APIKey
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the API keys file: %w", err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, scopes := line, ""
			if j := strings.IndexAny(line, " \t"); j >= 0 {
				key, scopes = line[:j], strings.TrimSpace(line[j:])
			}
			sc, err := httpapi.ParseScopes(scopes)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w (a line is KEY, or KEY and its scopes: KEY decide,read)", file, i+1, err)
			}
			keys = append(keys, httpapi.APIKey{Key: key, Scopes: sc})
		}
	}
	for _, k := range strings.Split(env, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, httpapi.APIKey{Key: k, Scopes: httpapi.ScopeAll})
		}
	}
	return keys, nil
}

// warnEvicting logs a warning when the Redis server (a master of the
// cluster) evicts keys when its memory is full: the ledger's counters,
// windows and Idempotency-Keys would be lost, and caps granted again
// (docs/budgets.md, "Redis memory"). Off the start's path; a Redis not
// reachable yet is not checked.
func warnEvicting(client redis.UniversalClient, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	servers, err := redisconn.Evicting(ctx, client)
	if err != nil {
		log.Info("the Redis eviction policy could not be read", "error", err.Error())
		return
	}
	if len(servers) > 0 {
		log.Warn("Redis evicts keys when its memory is full: evicted caps, budgets and holds count again from zero, and evicted per-customer windows and Idempotency-Keys grant again; set maxmemory-policy noeviction and size maxmemory for the grant records (docs/budgets.md, \"Redis memory\")",
			"servers", strings.Join(servers, ", "))
	}
}

// maxRejectedShown bounds the rejected lines a failed load lists.
const maxRejectedShown = 20

// countersTimeout bounds a call of the live experiment counters to Redis:
// a script counting a batch, or GET /v1/experiments's read.
const countersTimeout = 5 * time.Second

// loadProfiles imports the preloaded profiles into the embedded Redis at
// url, checked against the schema, as arbiter profiles import --rules does
// (profilestore.Import: one loader for both). A line that is not a valid
// profile fails the load, naming the line. It returns how many profiles
// were stored.
func loadProfiles(ctx context.Context, url string, local profilestore.LocalRedis, prefix string, schema *rules.Schema, preload preloadFunc) (int, error) {
	r, name, err := preload()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	// A client of its own: loading is not bound by --redis-timeout.
	client, err := redisconn.OpenWith(url, redisconn.Options{Timeout: 10 * time.Second, Retries: 2})
	if err != nil {
		return 0, err
	}
	defer client.Close()
	// Written through the embedded Redis's own API (local): its profiles
	// then share their field names and short values.
	res, err := profilestore.Import(ctx, client, r, profilestore.ImportOptions{Prefix: prefix, Schema: schema, Local: local})
	if err != nil {
		return res.Imported, fmt.Errorf("%s: %w", name, err)
	}
	if len(res.Rejected) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d of the profiles in %s are not valid (fix them or remove the lines):", len(res.Rejected), name)
		for i, rej := range res.Rejected {
			if i == maxRejectedShown {
				fmt.Fprintf(&b, "\n... and %d more", len(res.Rejected)-maxRejectedShown)
				break
			}
			fmt.Fprintf(&b, "\n%s:%d: %s", name, rej.Line, rej.Why)
		}
		return res.Imported, errors.New(b.String())
	}
	return res.Imported, nil
}
