// Package ledger is the Redis ledger: it reserves offers' per-customer caps,
// fleet-wide totals and budgets for the engine, atomically and exactly
// across any number of replicas, in one round trip per decision.
//
// On a single Redis (or a Sentinel-managed master) one Lua script walks the
// whole plan (engine.(*Plan).Walk's greedy walk) and reserves as it goes.
// On Redis Cluster, where one script may only touch keys of one slot, the
// per-customer keys (slot of {customer}) and each offer's fleet keys (slot
// of {offer}) are checked and tentatively reserved by one script per slot,
// all in one pipeline (one round trip, in parallel across nodes); the walk
// then runs in Go on those answers, and reservations the walk did not use
// are released in the background. See docs/redis.md.
package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/engine"
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

// Options configure a Redis ledger.
type Options struct {
	Prefix string // key prefix, default "arbiter:"
	Mode   Mode
	// ReleaseTimeout bounds the background release of unused tentative
	// reservations (ModeSplit); default 2s.
	ReleaseTimeout time.Duration
	// OnReleaseError, if set, is told when a release failed: the units it
	// held stay counted (never an overspend, possibly an underspend).
	OnReleaseError func(error)
}

// Redis is the Redis ledger. It implements engine.Ledger and is safe for
// concurrent use.
type Redis struct {
	client redis.UniversalClient
	prefix string
	split  bool
	opts   Options

	tokenPrefix string
	seq         atomic.Uint64
	pending     sync.WaitGroup

	reserves, errs, releaseErrs atomic.Uint64
}

// Stats counts a ledger's work.
type Stats struct {
	Reserves      uint64 // Reserve calls that reached Redis
	Errors        uint64 // of which failed or timed out
	ReleaseErrors uint64 // background releases that failed (ModeSplit)
}

// Stats returns the ledger's counters.
func (l *Redis) Stats() Stats {
	return Stats{Reserves: l.reserves.Load(), Errors: l.errs.Load(), ReleaseErrors: l.releaseErrs.Load()}
}

var _ engine.Ledger = (*Redis)(nil)

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
		o.ReleaseTimeout = 2 * time.Second
	}
	split := o.Mode == ModeSplit
	if o.Mode == ModeAuto {
		_, split = client.(*redis.ClusterClient)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Redis{client: client, prefix: o.Prefix, split: split, opts: o, tokenPrefix: hex.EncodeToString(b[:]) + "-"}
}

// Split reports whether the ledger runs in ModeSplit.
func (l *Redis) Split() bool { return l.split }

// Wait waits for background releases to finish (tests, shutdown).
func (l *Redis) Wait() { l.pending.Wait() }

// CustomerKey is the per-customer grant key of an offer: a sorted set of
// grant times for a rolling window, or a counter (":count") for a cap
// without a window.
func CustomerKey(prefix, customerID, offerID string, windowed bool) string {
	k := prefix + "grants:{" + customerID + "}:" + offerID
	if !windowed {
		k += ":count"
	}
	return k
}

// TotalKey is the fleet-wide grant counter of an offer.
func TotalKey(prefix, offerID string) string { return prefix + "offer:{" + offerID + "}:granted" }

// BudgetKey is the fleet-wide spent counter (minor units) of an offer in a
// currency: the plan's budget currency (engine.Plan.BudgetOf).
func BudgetKey(prefix, offerID, currency string) string {
	if currency == "" {
		currency = "-"
	}
	return prefix + "offer:{" + offerID + "}:spent:" + currency
}

// ErrBadPlan is returned for a plan the ledger cannot walk.
var ErrBadPlan = errors.New("ledger: bad plan")

// Reserve walks the plan, reserving the caps of the granted items (nothing
// on a dry run), and returns one result per item. An error means Redis
// failed or timed out: the caller grants no capped offer.
func (l *Redis) Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil", ErrBadPlan)
	}
	for i := range p.Items {
		it := &p.Items[i]
		if spend, _ := p.BudgetOf(i); it.Amount < 0 || spend < 0 || it.PerCustomer < 0 || it.Total < 0 || it.Budget < 0 || it.Window < 0 {
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
	}
	return res, err
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (l *Redis) reserveScript(ctx context.Context, p *engine.Plan, token string) ([]engine.Result, error) {
	now := p.Now.UnixMilli()
	keys := make([]string, 0, 2*len(p.Items))
	args := make([]any, 0, 7+12*len(p.Items))
	args = append(args, strconv.FormatInt(now, 10), boolArg(p.DryRun), strconv.Itoa(p.Limit),
		strconv.FormatInt(p.Guardrail, 10), strconv.Itoa(len(p.Items)), token, boolArg(p.CustomerID == ""))
	for i := range p.Items {
		it := &p.Items[i]
		win := it.Window.Milliseconds()
		pck, tk, bk := 0, 0, 0
		if it.PerCustomer > 0 && p.CustomerID != "" {
			keys = append(keys, CustomerKey(l.prefix, p.CustomerID, it.OfferID, win > 0))
			pck = len(keys)
		}
		if it.Total > 0 {
			keys = append(keys, TotalKey(l.prefix, it.OfferID))
			tk = len(keys)
		}
		spend, cur := p.BudgetOf(i)
		if it.Budget > 0 {
			keys = append(keys, BudgetKey(l.prefix, it.OfferID, cur))
			bk = len(keys)
		}
		args = append(args, boolArg(it.Fallback), it.Group, strconv.FormatInt(it.Amount, 10),
			strconv.Itoa(it.PerCustomer), strconv.FormatInt(win, 10), strconv.FormatInt(now-win, 10),
			strconv.FormatInt(it.Total, 10), strconv.FormatInt(it.Budget, 10),
			strconv.Itoa(pck), strconv.Itoa(tk), strconv.Itoa(bk), strconv.FormatInt(spend, 10))
	}
	reply, err := scriptWalk.Run(ctx, l.client, keys, args...).Text()
	if err != nil {
		return nil, fmt.Errorf("ledger: redis: %w", err)
	}
	return decodeResults(reply, len(p.Items))
}

func decodeResults(reply string, n int) ([]engine.Result, error) {
	if len(reply) != n {
		return nil, fmt.Errorf("ledger: script answered %d results for %d items", len(reply), n)
	}
	out := make([]engine.Result, n)
	for i := 0; i < n; i++ {
		c := reply[i]
		if c < '1' || c > '8' {
			return nil, fmt.Errorf("ledger: script answered %q", reply)
		}
		out[i] = engine.Result(c - '0')
	}
	return out, nil
}

// reserveSplit is ModeSplit: one pipeline of per-slot scripts, the walk in
// Go, then a background release of what the walk did not use.
func (l *Redis) reserveSplit(ctx context.Context, p *engine.Plan, token string) ([]engine.Result, error) {
	now := p.Now.UnixMilli()
	n := len(p.Items)
	pcRes := make([]byte, n) // '1' reserved, '5' full, 0 not asked
	fleetRes := make([]byte, n)

	var cKeys []string
	var cArgs []any
	var cItems []int
	cArgs = append(cArgs, strconv.FormatInt(now, 10), boolArg(p.DryRun), token)
	for i := range p.Items {
		it := &p.Items[i]
		if it.PerCustomer > 0 && p.CustomerID != "" {
			win := it.Window.Milliseconds()
			cKeys = append(cKeys, CustomerKey(l.prefix, p.CustomerID, it.OfferID, win > 0))
			cArgs = append(cArgs, strconv.Itoa(it.PerCustomer), strconv.FormatInt(win, 10), strconv.FormatInt(now-win, 10))
			cItems = append(cItems, i)
		}
	}

	type call struct {
		script *redis.Script
		keys   []string
		args   []any
		cmd    *redis.Cmd
		items  []int // items answered, in reply order
		fleet  bool
	}
	var calls []*call
	if len(cKeys) > 0 {
		calls = append(calls, &call{script: scriptCustomer, keys: cKeys, args: cArgs, items: cItems})
	}
	for i := range p.Items {
		it := &p.Items[i]
		if it.Total > 0 || it.Budget > 0 {
			spend, cur := p.BudgetOf(i)
			calls = append(calls, &call{
				script: scriptFleet,
				keys:   []string{TotalKey(l.prefix, it.OfferID), BudgetKey(l.prefix, it.OfferID, cur)},
				args: []any{boolArg(p.DryRun), strconv.FormatInt(it.Total, 10), strconv.FormatInt(it.Budget, 10),
					strconv.FormatInt(spend, 10)},
				items: []int{i},
				fleet: true,
			})
		}
	}

	if len(calls) > 0 {
		run := func(calls []*call, sha bool) error {
			pipe := l.client.Pipeline()
			for _, c := range calls {
				if sha {
					c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
				} else {
					c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...)
				}
			}
			_, err := pipe.Exec(ctx)
			return err
		}
		err := run(calls, true)
		if err != nil {
			// After a restart or failover the scripts may be gone: send the
			// ones refused for that in full (they did nothing).
			var again []*call
			for _, c := range calls {
				if e := c.cmd.Err(); e != nil && redis.HasErrorPrefix(e, "NOSCRIPT") {
					again = append(again, c)
				}
			}
			if len(again) > 0 {
				_ = run(again, false)
			}
		}
		var firstErr error
		for _, c := range calls {
			reply, err := c.cmd.Text()
			if err == nil && len(reply) != len(c.items) {
				err = fmt.Errorf("script answered %q for %d items", reply, len(c.items))
			}
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			for j, i := range c.items {
				if c.fleet {
					fleetRes[i] = reply[j]
				} else {
					pcRes[i] = reply[j]
				}
			}
		}
		if firstErr != nil {
			// Give back whatever did get reserved; grant nothing capped.
			if !p.DryRun {
				l.release(p, token, pcRes, fleetRes, nil)
			}
			return nil, fmt.Errorf("ledger: redis: %w", firstErr)
		}
	}

	results := p.Walk(func(i int) engine.Result {
		it := &p.Items[i]
		switch {
		case it.PerCustomer > 0 && pcRes[i] != '1':
			return engine.SkippedCapPerCustomer
		case (it.Total > 0 || it.Budget > 0) && fleetRes[i] == '6':
			return engine.SkippedCapTotal
		case (it.Total > 0 || it.Budget > 0) && fleetRes[i] != '1':
			return engine.SkippedBudget
		}
		return engine.Granted
	})
	if !p.DryRun {
		l.release(p, token, pcRes, fleetRes, results)
	}
	return results, nil
}

// release gives back, in the background, the tentative reservations of
// items not granted (results nil: of every item).
func (l *Redis) release(p *engine.Plan, token string, pcRes, fleetRes []byte, results []engine.Result) {
	var cKeys []string
	cArgs := []any{token}
	type fleetRel struct {
		keys []string
		args []any
	}
	var fleet []fleetRel
	for i := range p.Items {
		if results != nil && results[i] == engine.Granted {
			continue
		}
		it := &p.Items[i]
		if pcRes[i] == '1' {
			win := it.Window.Milliseconds()
			cKeys = append(cKeys, CustomerKey(l.prefix, p.CustomerID, it.OfferID, win > 0))
			cArgs = append(cArgs, strconv.FormatInt(win, 10))
		}
		if fleetRes[i] == '1' {
			spend, cur := p.BudgetOf(i)
			fleet = append(fleet, fleetRel{
				keys: []string{TotalKey(l.prefix, it.OfferID), BudgetKey(l.prefix, it.OfferID, cur)},
				args: []any{strconv.FormatInt(it.Total, 10), strconv.FormatInt(it.Budget, 10), strconv.FormatInt(spend, 10)},
			})
		}
	}
	if len(cKeys) == 0 && len(fleet) == 0 {
		return
	}
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.ReleaseTimeout)
		defer cancel()
		var errs []string
		if len(cKeys) > 0 {
			if err := scriptReleaseCustomer.Run(ctx, l.client, cKeys, cArgs...).Err(); err != nil {
				errs = append(errs, err.Error())
			}
		}
		for _, f := range fleet {
			if err := scriptReleaseFleet.Run(ctx, l.client, f.keys, f.args...).Err(); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			l.releaseErrs.Add(1)
		}
		if len(errs) > 0 && l.opts.OnReleaseError != nil {
			l.opts.OnReleaseError(fmt.Errorf("ledger: release of unused reservations: %s", strings.Join(errs, "; ")))
		}
	}()
}
