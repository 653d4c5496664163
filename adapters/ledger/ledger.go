// Package ledger is the Redis ledger: it reserves offers' per-customer caps,
// fleet-wide totals and budgets for the engine, holds grants until an
// outcome commits them, paces, keeps the grant records that outcomes and
// learning need, counts learning trials and successes, and claims
// Idempotency-Keys, atomically and exactly across any number of replicas,
// in one round trip per decision. It implements the contract of the
// reference ledger, package memledger, which a property test compares it
// with.
//
// On a single Redis (or a Sentinel-managed master) one Lua script walks the
// whole plan (engine.(*Plan).Walk's greedy walk) and reserves as it goes.
// On Redis Cluster, where one script may only touch keys of one slot, the
// per-customer keys (slot of {customer}), each offer's keys (slot of
// {offer}) and the Idempotency-Key (its own slot) are checked and
// tentatively reserved by one script per slot, all in one pipeline (one
// round trip, in parallel across nodes); the walk then runs in Go on those
// answers, and reservations the walk did not use are released in the
// background.
//
// A call the caller gave up on (its deadline passed, its reply was lost, or
// too few replicas acknowledged it) may still have run on the server: the
// ledger then undoes it in the background, by the call's token. The undo
// leaves a tomb under the token, so that a call that reaches the server
// after its undo does nothing: a unit is never used without a grant,
// whatever the timing (issue 13, item 4). See docs/redis.md.
package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

// Mode selects how the ledger uses Redis.
type Mode int

// Ledger modes.
const (
	// ModeAuto: ModeSplit on a *redis.ClusterClient, else ModeScript.
	ModeAuto Mode = iota
	// ModeScript walks the whole plan in one script: exact and atomic;
	// needs every key on one server (not Redis Cluster).
	ModeScript
	// ModeSplit reserves per slot and walks in Go (for Redis Cluster).
	ModeSplit
)

// Clock selects the clock of rolling windows and holds.
type Clock int

// Clocks.
const (
	// ClockServer: the Redis server's time (TIME, inside the scripts), the
	// same for every replica whatever their own clocks say. A dry run
	// is judged at its plan's time (it may ask for any).
	ClockServer Clock = iota
	// ClockPlan: the plan's time and the outcome's, as given (tests that
	// compare the ledger with the reference ledger).
	ClockPlan
)

// SweepLimit bounds the expired holds of one offer released by one call
// (memledger.SweepLimit).
const SweepLimit = 100

// Defaults of Options.
const (
	DefaultRecordTTL      = 7 * 24 * time.Hour
	DefaultReleaseTimeout = 10 * time.Second
	// tombTTL and journalTTL are written in the scripts (10 minutes, 1
	// minute).
)

// Options configure a Redis ledger.
type Options struct {
	Prefix string // key prefix, default "arbiter:"
	Mode   Mode
	Clock  Clock
	// RecordTTL is how long a grant record is kept after its decision (plus
	// its hold): the attribution window. Default 7 days.
	RecordTTL time.Duration
	// Replicas: after reserving, wait (Redis WAIT, in the same round trip)
	// until this many replicas have the writes; a call acknowledged by
	// fewer grants nothing capped and is undone. 0: do not wait.
	Replicas int
	// ReplicaTimeout bounds WAIT; default: what is left of the call's
	// deadline less a margin for the reply, else 50 ms.
	ReplicaTimeout time.Duration
	// ReleaseTimeout bounds the background work of undoing a call the
	// caller gave up on and releasing unused tentative reservations
	// (ModeSplit): it is retried until then. Default 10 s.
	ReleaseTimeout time.Duration
	// OnReleaseError, if set, is told when a release failed for good: the
	// units it held stay counted (never an overspend, possibly an
	// underspend).
	OnReleaseError func(error)
	// Logger receives failed ledger calls at WARN (what failed, and how
	// many failed since the last line), at most one line per LogEvery;
	// nil: not logged (the engine still degrades the decision
	// ledger_unavailable and the metrics count it).
	Logger *slog.Logger
	// LogEvery spaces the failure lines; default DefaultLogEvery.
	LogEvery time.Duration
	// ClaimLease bounds how long an Idempotency-Key claimed by a decision
	// is held before its answer is stored (StoreAnswer keeps it for its
	// TTL): a decision that never answers (its server killed, its undo
	// unable to reach Redis) gives the key up after it, and a retry is
	// decided afresh. Default DefaultClaimLease.
	ClaimLease time.Duration
	// AutoPipeline, when set, carries the calls that are one script each
	// without a WAIT (a walk on one server with Replicas 0, the common
	// case): the client's autopipeliner (redisconn.AutoPipelined), through
	// which concurrent decisions' scripts share a write and a read. The
	// rest (pipelines of several scripts, WAIT, ModeSplit on Redis Cluster,
	// whose failover handling is the client's) go through the client. A
	// call the caller gives up on is undone as before, through the client:
	// its undo may reach Redis before the queued call, whose tomb then
	// makes it do nothing.
	AutoPipeline redis.Cmdable
}

// DefaultClaimLease is Options.ClaimLease's default: well past the time
// a decision takes to store its answer (a few tries of
// httpapi.DefaultGrantsTimeout).
const DefaultClaimLease = 30 * time.Second

// DefaultLogEvery spaces the log lines of failed ledger calls.
const DefaultLogEvery = 10 * time.Second

// Redis is the Redis ledger. It implements engine.Ledger and
// learning.Source and is safe for concurrent use.
type Redis struct {
	client redis.UniversalClient
	prefix string
	split  bool
	opts   Options

	tokenPrefix string
	budgetChunk int // BudgetSweepChunk; smaller in tests
	seq         atomic.Uint64
	pending     sync.WaitGroup

	reserves, errs, releaseErrs, undone, unreplicated, holds, expiries atomic.Uint64

	lastLog  atomic.Int64  // Unix ns of the last failure line
	unlogged atomic.Uint64 // failures since that line
}

// Stats counts a ledger's work.
type Stats struct {
	Reserves      uint64 // Reserve calls that reached Redis
	Errors        uint64 // of which failed, timed out or were not replicated
	ReleaseErrors uint64 // background releases that failed for good
	// Undone counts calls the caller gave up on that were undone (or
	// tombed before they ran).
	Undone uint64
	// NotReplicated counts calls acknowledged by fewer than Replicas.
	NotReplicated uint64
	Holds         uint64 // grants held
	Expiries      uint64 // holds released because they expired (by walks and outcomes)
}

// Stats returns the ledger's counters.
func (l *Redis) Stats() Stats {
	return Stats{Reserves: l.reserves.Load(), Errors: l.errs.Load(), ReleaseErrors: l.releaseErrs.Load(),
		Undone: l.undone.Load(), NotReplicated: l.unreplicated.Load(), Holds: l.holds.Load(), Expiries: l.expiries.Load()}
}

var (
	_ engine.Ledger     = (*Redis)(nil)
	_ learning.Source   = (*Redis)(nil)
	_ learning.Resetter = (*Redis)(nil)
)

// New returns a ledger on client with keys under prefix ("" for the
// default "arbiter:"), in ModeAuto.
func New(client redis.UniversalClient, prefix string) *Redis {
	return NewWithOptions(client, Options{Prefix: prefix})
}

// NewWithOptions returns a ledger with options.
func NewWithOptions(client redis.UniversalClient, o Options) *Redis {
	if o.Prefix == "" {
		o.Prefix = "arbiter:"
	}
	if o.ReleaseTimeout <= 0 {
		o.ReleaseTimeout = DefaultReleaseTimeout
	}
	if o.RecordTTL <= 0 {
		o.RecordTTL = DefaultRecordTTL
	}
	if o.ClaimLease <= 0 {
		o.ClaimLease = DefaultClaimLease
	}
	split := o.Mode == ModeSplit
	if o.Mode == ModeAuto {
		_, split = client.(*redis.ClusterClient)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Redis{client: client, prefix: o.Prefix, split: split, opts: o, tokenPrefix: hex.EncodeToString(b[:]) + "-", budgetChunk: BudgetSweepChunk}
}

// Split reports whether the ledger runs in ModeSplit.
func (l *Redis) Split() bool { return l.split }

// Wait waits for background releases to finish (tests, shutdown).
func (l *Redis) Wait() { l.pending.Wait() }

// WaitTimeout waits for background releases at most d; it reports whether
// they finished.
func (l *Redis) WaitTimeout(d time.Duration) bool {
	done := make(chan struct{})
	go func() { l.pending.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// CustomerKey is the per-customer grant key of an offer: a sorted set of
// grant times for a rolling window, or a counter (":count") for a cap
// without a window.
//
// The customer id is escaped (CustomerTag) so that every id lands in the
// slot of its own hash tag on Redis Cluster.
func CustomerKey(prefix, customerID, offerID string, windowed bool) string {
	k := prefix + "grants:{" + CustomerTag(customerID) + "}:" + offerID
	if !windowed {
		k += ":count"
	}
	return k
}

// CustomerTag is a customer id as it is written inside the hash tag of its
// keys ({TAG}): '%', '{' and '}' are percent-escaped (%25, %7B, %7D), so
// that the tag ends where it should (Redis Cluster hashes what lies
// between the first '{' and the next '}': an id such as "}x" would
// otherwise give an empty tag, and keys of one customer in several
// slots). Distinct ids give distinct tags; ids without those three
// characters are unchanged.
func CustomerTag(id string) string {
	if !strings.ContainsAny(id, "%{}") {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 8)
	for i := 0; i < len(id); i++ {
		switch c := id[i]; c {
		case '%':
			b.WriteString("%25")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TotalKey is the fleet-wide grant counter of an offer (held + committed
// with a hold).
func TotalKey(prefix, offerID string) string { return prefix + "offer:{" + offerID + "}:granted" }

// BudgetKey is the fleet-wide spent counter (minor units) of an offer in a
// currency, the plan's budget currency (engine.Plan.BudgetOf), held +
// committed with a hold.
func BudgetKey(prefix, offerID, currency string) string {
	return prefix + "offer:{" + offerID + "}:spent:" + currency
}

// HeldKey is the sorted set of an offer's held grants: member
// "REF|AMOUNT|CURRENCY", score the hold's expiry (Unix ms).
func HeldKey(prefix, offerID string) string { return prefix + "offer:{" + offerID + "}:held" }

// HoldKey is the hash of an offer's held sums: n (held grants), a:CUR
// (held money), over (over-cap commits).
func HoldKey(prefix, offerID string) string { return prefix + "offer:{" + offerID + "}:hold" }

// CurrenciesKey is the set of the currencies an offer's budget counted.
func CurrenciesKey(prefix, offerID string) string { return prefix + "offer:{" + offerID + "}:curs" }

// LearnKey is the hash of an offer's learning counts: fields
// "<cell>|t|<day>" (trials) and "<cell>|s|<day>" (successes).
func LearnKey(prefix, offerID string) string { return prefix + "learn:{" + offerID + "}" }

// RecordKey is the hash holding the grant records of an offer for the
// decisions of one second (and one of 32 sub-buckets by the reference's
// last character): field the decision's reference, value
// "<state><success>|<amount>|<currency>|<hold expiry ms>|<day>|<cell>".
func RecordKey(prefix, offerID string, decided time.Time, ref string) string {
	return prefix + "rec:{" + offerID + "}:" + bucket(decided, ref)
}

func bucket(decided time.Time, ref string) string {
	sub := 0
	if ref != "" {
		sub = int(ref[len(ref)-1] & 31)
	}
	return strconv.FormatInt(decided.Unix(), 36) + ":" + strconv.Itoa(sub)
}

// ClaimKey is the hash of an Idempotency-Key claim (h: the body's SHA-256,
// o: the owner's token, a: the answer), in a slot of its own: key is the
// caller's scoped key, hashed.
func ClaimKey(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + "idem:{" + hex.EncodeToString(sum[:16]) + "}"
}

// ErrBadPlan is returned for a plan the ledger cannot walk.
var ErrBadPlan = errors.New("ledger: bad plan")

// ErrNotReplicated is returned when fewer than Options.Replicas replicas
// acknowledged a reservation in time: it was undone.
var ErrNotReplicated = errors.New("ledger: the reservation reached too few replicas")

// Reserve walks the plan, reserving the caps of the granted items (nothing
// on a dry run), holding, recording and counting their trials, and
// claiming the plan's Idempotency-Key, and returns one result per item.
// An error means Redis failed, timed out or did not replicate the call: the
// caller grants no capped offer, and whatever the call may have reserved is
// undone in the background.
func (l *Redis) Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil", ErrBadPlan)
	}
	for i := range p.Items {
		it := &p.Items[i]
		if spend, _ := p.BudgetOf(i); it.Amount < 0 || spend < 0 || it.PerCustomer < 0 || it.Total < 0 || it.Budget < 0 || it.Window < 0 || it.Hold < 0 {
			return nil, fmt.Errorf("%w: item %d (%s) has a negative amount or cap", ErrBadPlan, i, it.OfferID)
		}
	}
	token := l.tokenPrefix + strconv.FormatUint(l.seq.Add(1), 36)
	l.reserves.Add(1)
	var res []engine.Result
	var err error
	if l.split {
		res, err = l.reserveSplit(ctx, p, token)
	} else {
		res, err = l.reserveScript(ctx, p, token)
	}
	if err != nil {
		l.errs.Add(1)
		l.logFailure(p, err)
		return nil, err
	}
	if !p.DryRun {
		for i, r := range res {
			if r == engine.Granted && p.Items[i].Hold > 0 {
				l.holds.Add(1)
			}
		}
	}
	return res, nil
}

// logFailure logs a failed Reserve, at most once per LogEvery, with the
// count of failures it stands for.
func (l *Redis) logFailure(p *engine.Plan, err error) {
	if l.opts.Logger == nil {
		return
	}
	n := l.unlogged.Add(1)
	every := l.opts.LogEvery
	if every <= 0 {
		every = DefaultLogEvery
	}
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if (last != 0 && now-last < int64(every)) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.unlogged.Add(-n)
	l.opts.Logger.Warn("ledger call failed: capped offers are not granted while it fails (decisions degraded ledger_unavailable)",
		"error", err.Error(), "failures", n, "since", every.String(), "offers", len(p.Items), "split", l.split)
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (l *Redis) serverClock() string { return boolArg(l.opts.Clock == ClockServer) }

// walkClock is serverClock for a walk: a dry run is judged at its plan's
// time whatever the clock, since it may be decided at any time (the
// request's "now", the console's time travel) and answers what a real
// decision then would; it writes nothing whose time matters (its claim
// expires by TTL).
func (l *Redis) walkClock(p *engine.Plan) string {
	if p.DryRun {
		return "0"
	}
	return l.serverClock()
}

// itemArgs appends item i's values (the scripts' item()).
func (l *Redis) itemArgs(args []any, p *engine.Plan, i int) []any {
	it := &p.Items[i]
	spend, _ := p.BudgetOf(i)
	return append(args, boolArg(it.Fallback), it.Group, strconv.FormatInt(it.Amount, 10), strconv.FormatInt(spend, 10),
		strconv.Itoa(it.PerCustomer), strconv.FormatInt(it.Window.Milliseconds(), 10),
		strconv.FormatInt(it.Total, 10), strconv.FormatInt(it.Budget, 10), strconv.FormatInt(it.Hold.Milliseconds(), 10),
		boolArg(it.Record), it.Cell, boolArg(it.Paced), strconv.FormatInt(it.PaceTotal, 10), strconv.FormatInt(it.PaceBudget, 10),
		it.OfferID, bucket(p.Now, p.Ref))
}

// budgetCurrency is the currency the plan's budgets are kept in, the same
// for every item (engine.Plan.BudgetOf); "" for a plan without items.
func budgetCurrency(p *engine.Plan) string {
	if len(p.Items) == 0 {
		return ""
	}
	_, cur := p.BudgetOf(0)
	return cur
}

func day(t time.Time) string { return strconv.FormatInt(t.UnixMilli()/86_400_000, 10) }

func (l *Redis) reserveScript(ctx context.Context, p *engine.Plan, token string) ([]engine.Result, error) {
	tomb, journal, claimKey := l.prefix+"tomb:{"+token+"}", l.prefix+"jrnl:{"+token+"}", l.prefix+"tomb:{"+token+"}"
	if c := p.Claim; c != nil {
		claimKey = ClaimKey(l.prefix, c.Key)
	}
	keys := []string{tomb, journal, claimKey}
	args := l.walkArgs(p, token)
	c := &call{script: scriptWalk, keys: keys, args: args}
	undo := func() { l.undo(&call{script: scriptReleaseWalk, keys: keys, args: args}) }
	acked, err := l.run(ctx, []*call{c})
	if err == nil {
		err = c.cmd.Err()
	}
	if err != nil {
		undo()
		return nil, fmt.Errorf("ledger: redis: %w", err)
	}
	reply, _ := c.cmd.Text()
	if l.opts.Replicas > 0 && acked < l.opts.Replicas {
		l.unreplicated.Add(1)
		undo()
		return nil, fmt.Errorf("%w (%d of %d)", ErrNotReplicated, acked, l.opts.Replicas)
	}
	res, swept, err := l.parseWalk(reply, p, token)
	if err != nil {
		undo()
		return nil, err
	}
	l.expiries.Add(uint64(swept))
	return res, nil
}

// walkArgs are the walk's ARGV (walkHead, then each item).
func (l *Redis) walkArgs(p *engine.Plan, token string) []any {
	body, cttl := "", "0"
	if c := p.Claim; c != nil {
		body, cttl = string(c.Body[:]), l.claimTTL(c)
	}
	args := make([]any, 0, 18+16*len(p.Items))
	args = append(args, strconv.FormatInt(p.Now.UnixMilli(), 10), l.walkClock(p), boolArg(p.DryRun), strconv.Itoa(p.Limit),
		strconv.FormatInt(p.Guardrail, 10), strconv.Itoa(len(p.Items)), token, boolArg(p.CustomerID == ""),
		p.Ref, day(p.Now), budgetCurrency(p), strconv.FormatInt(l.opts.RecordTTL.Milliseconds(), 10),
		boolArg(p.Claim != nil), body, cttl, l.prefix, CustomerTag(p.CustomerID), strconv.Itoa(SweepLimit))
	for i := range p.Items {
		args = l.itemArgs(args, p, i)
	}
	return args
}

// claimTTL is how long a claim is first held, in ms: its lease, within
// its TTL.
func (l *Redis) claimTTL(c *engine.Claim) string {
	return strconv.FormatInt(min(c.TTL, l.opts.ClaimLease).Milliseconds(), 10)
}

// parseWalk reads a walk's reply: the claim's head, one result per item and
// the holds swept.
func (l *Redis) parseWalk(reply string, p *engine.Plan, token string) ([]engine.Result, int, error) {
	if c := p.Claim; c != nil {
		if reply == "" {
			return nil, 0, fmt.Errorf("ledger: empty reply to a claim")
		}
		head := reply[0]
		reply = reply[1:]
		if !applyClaimHead(c, head, reply) {
			return nil, 0, fmt.Errorf("ledger: script answered %q to a claim", head)
		}
		if c.State != engine.ClaimNew {
			return firstCaps(p), 0, nil
		}
		c.Owner = token
	}
	if reply == "T" {
		return nil, 0, errors.New("ledger: the call was given up before it ran")
	}
	swept := 0
	if i := strings.IndexByte(reply, '/'); i >= 0 {
		swept, _ = strconv.Atoi(reply[i+1:])
		reply = reply[:i]
	}
	res, err := decodeResults(reply, len(p.Items))
	return res, swept, err
}

// applyClaimHead sets c from a claim reply's head (and the answer that
// follows "R").
func applyClaimHead(c *engine.Claim, head byte, rest string) bool {
	switch head {
	case 'N':
		c.State = engine.ClaimNew
	case 'C':
		c.State = engine.ClaimConflict
	case 'P':
		c.State = engine.ClaimPending
	case 'R':
		c.State, c.Answer = engine.ClaimReplay, []byte(rest)
	default:
		return false
	}
	return true
}

// firstCaps is the walk of a plan that reserved nothing.
func firstCaps(p *engine.Plan) []engine.Result {
	return p.Walk(func(i int) engine.Result {
		it := &p.Items[i]
		switch {
		case it.PerCustomer > 0:
			return engine.SkippedCapPerCustomer
		case it.Total > 0:
			return engine.SkippedCapTotal
		}
		return engine.SkippedBudget
	})
}

func decodeResults(reply string, n int) ([]engine.Result, error) {
	if len(reply) != n {
		return nil, fmt.Errorf("ledger: script answered %d results for %d items", len(reply), n)
	}
	out := make([]engine.Result, n)
	for i := 0; i < n; i++ {
		c := reply[i]
		if c < '1' || c > '9' {
			return nil, fmt.Errorf("ledger: script answered %q", reply)
		}
		out[i] = engine.Result(c - '0')
	}
	return out, nil
}

// call is one script call of a round trip.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// run sends calls in one round trip: one pipeline (on Redis Cluster, one
// per node, in parallel), each node's part followed by WAIT when
// Options.Replicas is set; scripts the server has lost (a restart, a
// failover) are sent again in full. It returns the fewest replicas that
// acknowledged the writes (0 without WAIT) and an error only when the
// round trip itself failed; each call's own error is in its cmd.
func (l *Redis) run(ctx context.Context, calls []*call) (int, error) {
	acked, err := l.send(ctx, calls, true)
	var again []*call
	for _, c := range calls {
		if e := c.cmd.Err(); e != nil && redis.HasErrorPrefix(e, "NOSCRIPT") {
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		a, err2 := l.send(ctx, again, false)
		if a < acked {
			acked = a
		}
		if err2 != nil {
			return acked, err2
		}
		return acked, nil
	}
	if err != nil && !isScriptErr(err) {
		return acked, err
	}
	return acked, nil
}

// isScriptErr reports whether err is a reply of the server to one command
// (NOSCRIPT, a script error), not a failure of the round trip.
func isScriptErr(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// send is one attempt of run: EVALSHA (sha) or EVAL.
func (l *Redis) send(ctx context.Context, calls []*call, sha bool) (int, error) {
	queue := func(pipe redis.Pipeliner, cs []*call) {
		for _, c := range cs {
			if sha {
				c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
			} else {
				c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...)
			}
		}
	}
	if l.opts.Replicas <= 0 && len(calls) == 1 && l.opts.AutoPipeline != nil && !l.split {
		c := calls[0]
		// A caller whose context ends returns while its command may still
		// wait in the autopipeliner's queue, to be written later: the
		// strings it carries must not be the request's (engine.Ledger: they
		// may live in the request's reused memory), so they are copied.
		keys, args := ownStrings(c.keys, c.args)
		if sha {
			c.cmd = c.script.EvalSha(ctx, l.opts.AutoPipeline, keys, args...)
		} else {
			c.cmd = c.script.Eval(ctx, l.opts.AutoPipeline, keys, args...)
		}
		return 0, c.cmd.Err()
	}
	if l.opts.Replicas <= 0 {
		pipe := l.client.Pipeline()
		queue(pipe, calls)
		_, err := pipe.Exec(ctx)
		return 0, err
	}
	timeout := l.replicaTimeout(ctx)
	cc, cluster := l.client.(*redis.ClusterClient)
	if !cluster {
		pipe := l.client.Pipeline()
		queue(pipe, calls)
		w := pipe.Do(ctx, "wait", l.opts.Replicas, timeout)
		_, err := pipe.Exec(ctx)
		n, _ := w.Int()
		return n, err
	}
	// WAIT acknowledges the writes of its own connection: on Redis
	// Cluster, each node's scripts and its WAIT go down one connection to
	// that node, all nodes in parallel.
	byNode := map[*redis.Client][]*call{}
	var order []*redis.Client
	for _, c := range calls {
		node, err := cc.MasterForKey(ctx, c.keys[0])
		if err != nil {
			for _, c := range calls {
				c.cmd = redis.NewCmd(ctx)
				c.cmd.SetErr(err)
			}
			return 0, err
		}
		if _, ok := byNode[node]; !ok {
			order = append(order, node)
		}
		byNode[node] = append(byNode[node], c)
	}
	acks := make([]int, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for k, node := range order {
		wg.Add(1)
		go func(k int, node *redis.Client) {
			defer wg.Done()
			pipe := node.Pipeline()
			queue(pipe, byNode[node])
			w := pipe.Do(ctx, "wait", l.opts.Replicas, timeout)
			_, errs[k] = pipe.Exec(ctx)
			acks[k], _ = w.Int()
		}(k, node)
	}
	wg.Wait()
	min, err := -1, error(nil)
	for k := range order {
		if min < 0 || acks[k] < min {
			min = acks[k]
		}
		if errs[k] != nil && err == nil {
			err = errs[k]
		}
	}
	reload := err != nil && !isScriptErr(err) // no answer: a master may have died in a failover
	for _, c := range calls {
		if e := c.cmd.Err(); e != nil && redis.HasErrorPrefix(e, "MOVED") {
			reload = true // the slots moved: learn where, for the next call
			break
		}
	}
	if reload {
		// These connections bypass the cluster client's routing (and its
		// reload on failure, redisconn): reload its map of slots here.
		cc.ReloadState(ctx)
	}
	if min < 0 {
		min = 0
	}
	return min, err
}

// replicaTimeout is WAIT's timeout in ms: ReplicaTimeout, within what is
// left of the call's deadline less a margin for the reply (a fifth of it,
// at least 5 ms); 50 ms without either; at least 1 ms.
func (l *Redis) replicaTimeout(ctx context.Context) int64 {
	d := l.opts.ReplicaTimeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		left -= max(5*time.Millisecond, left/5)
		if d <= 0 || left < d {
			d = left
		}
	} else if d <= 0 {
		d = 50 * time.Millisecond
	}
	if ms := d.Milliseconds(); ms > 0 {
		return ms
	}
	return 1
}

// undo runs calls that undo what a call the caller gave up on may have
// done, in the background, retrying until they answer or ReleaseTimeout
// passes.
func (l *Redis) undo(calls ...*call) {
	detach(calls)
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		if err := l.retry(calls); err != nil {
			l.releaseErrs.Add(1)
			if l.opts.OnReleaseError != nil {
				l.opts.OnReleaseError(fmt.Errorf("ledger: undoing a call given up on: %w", err))
			}
			return
		}
		l.undone.Add(1)
	}()
}

// release runs calls that give back unused tentative reservations, in the
// background (ModeSplit).
func (l *Redis) release(calls ...*call) {
	if len(calls) == 0 {
		return
	}
	detach(calls)
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		if err := l.retry(calls); err != nil {
			l.releaseErrs.Add(1)
			if l.opts.OnReleaseError != nil {
				l.opts.OnReleaseError(fmt.Errorf("ledger: release of unused reservations: %w", err))
			}
		}
	}()
}

// detach copies the strings of calls that outlive the Reserve that made
// them: the plan's strings are the request's, whose memory the server
// reuses once the decision is answered.
func detach(calls []*call) {
	for _, c := range calls {
		keys := make([]string, len(c.keys))
		for i, k := range c.keys {
			keys[i] = strings.Clone(k)
		}
		args := make([]any, len(c.args))
		for i, a := range c.args {
			if s, ok := a.(string); ok {
				a = strings.Clone(s)
			}
			args[i] = a
		}
		c.keys, c.args = keys, args
	}
}

// retry runs calls until every one has answered, for up to
// ReleaseTimeout, pausing a little longer after each failure.
func (l *Redis) retry(calls []*call) error {
	deadline := time.Now().Add(l.opts.ReleaseTimeout)
	pause := 20 * time.Millisecond
	left := calls
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		pipe := l.client.Pipeline()
		for _, c := range left {
			c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...) // in full: a pipeline cannot fall back from EVALSHA
		}
		_, _ = pipe.Exec(ctx)
		cancel()
		var failed []*call
		var last error
		for _, c := range left {
			if err := c.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
				failed = append(failed, c)
				last = err
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if time.Now().Add(pause).After(deadline) {
			return last
		}
		time.Sleep(pause) // a pause between retries of background work, not synchronisation
		if pause < time.Second {
			pause *= 2
		}
		left = failed
	}
}

// ownStrings returns copies of keys and of the string arguments in args, in
// memory of their own.
func ownStrings(keys []string, args []any) ([]string, []any) {
	k := make([]string, len(keys))
	for i, s := range keys {
		k[i] = strings.Clone(s)
	}
	a := make([]any, len(args))
	for i, v := range args {
		if s, ok := v.(string); ok {
			v = strings.Clone(s)
		}
		a[i] = v
	}
	return k, a
}
