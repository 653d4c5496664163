package ledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

// Apply applies outcomes to the grant records of their decisions (see
// engine.GrantOutcome: each transition at most once, however often an
// outcome comes) and returns what each moved, in one round trip: one
// script per outcome and offer, each in its offer's slot (and a round trip
// before it that reads the grants' currencies when an offer's budget is
// counted per cart currency, perCurrencyBudgets).
func (l *Redis) Apply(ctx context.Context, outs []engine.GrantOutcome) ([]engine.OutcomeResult, error) {
	type job struct {
		out int
		c   *call
	}
	var jobs []job
	var calls []*call
	budgets, err := l.perCurrencyBudgets(ctx, outs)
	if err != nil {
		return nil, fmt.Errorf("ledger: outcomes: %w", err)
	}
	for k := range outs {
		g := &outs[k]
		at := ""
		if !g.At.IsZero() {
			at = strconv.FormatInt(g.At.UnixMilli(), 10)
		}
		decided := ""
		if !g.DecisionTime.IsZero() {
			decided = strconv.FormatInt(g.DecisionTime.UnixMilli(), 10)
		}
		now := strconv.FormatInt(g.Now.UnixMilli(), 10)
		if g.Now.IsZero() && l.opts.Clock == ClockPlan {
			now = strconv.FormatInt(time.Now().UnixMilli(), 10)
		}
		for j, of := range g.Offers {
			budget := of.Budget
			if of.BudgetMajor > 0 {
				budget = budgets[[2]int{k, j}]
			}
			c := &call{script: scriptOutcome, keys: []string{RecordKey(l.prefix, of.ID, g.DecisionTime, g.Ref)},
				args: []any{l.prefix, of.ID, g.Ref, g.Type, g.Reward, at, now, l.serverClock(),
					strconv.FormatInt(of.Total, 10), strconv.FormatInt(budget, 10), strconv.Itoa(SweepLimit), decided}}
			jobs = append(jobs, job{k, c})
			calls = append(calls, c)
		}
	}
	res := make([]engine.OutcomeResult, len(outs))
	if len(calls) == 0 {
		return res, nil
	}
	if err := l.runPlain(ctx, calls); err != nil {
		return nil, fmt.Errorf("ledger: outcomes: %w", err)
	}
	for _, j := range jobs {
		reply, err := j.c.cmd.Text()
		if err != nil {
			return nil, fmt.Errorf("ledger: outcomes: %w", err)
		}
		if reply == "" {
			continue // no record of this offer for the decision
		}
		f := strings.Split(reply, ",")
		if len(f) != 8 {
			return nil, fmt.Errorf("ledger: outcome script answered %q", reply)
		}
		v := make([]int, 8)
		for i := range f {
			v[i], _ = strconv.Atoi(f[i])
		}
		res[j.out].Add(engine.OutcomeResult{Records: 1, Commits: v[0], LateCommits: v[1], OverCap: v[2], Releases: v[3],
			Expiries: v[4], Cancels: v[5], Successes: v[6]})
		l.expiries.Add(uint64(v[7]))
	}
	return res, nil
}

// perCurrencyBudgets returns, for each offer of outs whose budget is
// counted per cart currency (engine.OutcomeOffer.BudgetMajor), keyed by
// the outcome's and the offer's index, its budget in minor units of the
// currency of the decision's grant, read from the grant's record first (a
// record's currency never changes); none for an offer without a record.
// It costs a round trip only when some offer has such a budget.
func (l *Redis) perCurrencyBudgets(ctx context.Context, outs []engine.GrantOutcome) (map[[2]int]int64, error) {
	type read struct {
		at  [2]int
		cmd *redis.StringCmd
	}
	var reads []read
	var pipe redis.Pipeliner
	for k := range outs {
		g := &outs[k]
		for j, of := range g.Offers {
			if of.BudgetMajor > 0 {
				if pipe == nil {
					pipe = l.client.Pipeline()
				}
				reads = append(reads, read{[2]int{k, j}, pipe.HGet(ctx, RecordKey(l.prefix, of.ID, g.DecisionTime, g.Ref), g.Ref)})
			}
		}
	}
	if pipe == nil {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading the grants' currencies: %w", err)
	}
	budgets := make(map[[2]int]int64, len(reads))
	for _, r := range reads {
		v, err := r.cmd.Result()
		if err != nil {
			continue // no record: the outcome script finds none either
		}
		f := strings.SplitN(v, "|", 4) // state+success | amount | currency | ...
		if len(f) < 4 {
			continue
		}
		exp, ok := engine.CurrencyExp(f[2])
		if !ok {
			exp = 2
		}
		budgets[r.at] = engine.BudgetMinor(outs[r.at[0]].Offers[r.at[1]].BudgetMajor, exp)
	}
	return budgets, nil
}

// runPlain runs calls in one pipeline (no WAIT), sending again in full
// the scripts the server lost; it fails when a call failed.
func (l *Redis) runPlain(ctx context.Context, calls []*call) error {
	if _, err := l.send(ctx, calls, true); err != nil && !isScriptErr(err) {
		return err
	}
	var again []*call
	for _, c := range calls {
		if e := c.cmd.Err(); e != nil && redis.HasErrorPrefix(e, "NOSCRIPT") {
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		if _, err := l.sendPlain(ctx, again); err != nil && !isScriptErr(err) {
			return err
		}
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}

// sendPlain sends calls with EVAL in one pipeline, without WAIT.
func (l *Redis) sendPlain(ctx context.Context, calls []*call) (int, error) {
	pipe := l.client.Pipeline()
	for _, c := range calls {
		c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...)
	}
	_, err := pipe.Exec(ctx)
	return 0, err
}

// Budgets returns the state of the queried offers' caps at now (zero: the
// ledger's clock), releasing every hold that expired by then first, in one
// round trip. An offer with no money counted yet has one state, in the
// currency "" (or one per queried currency).
func (l *Redis) Budgets(ctx context.Context, now time.Time, qs []engine.BudgetQuery) ([]engine.BudgetState, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if len(qs) == 0 {
		return nil, nil
	}
	at, chunk := strconv.FormatInt(now.UnixMilli(), 10), strconv.Itoa(l.budgetChunk)
	replies := make([][]any, len(qs))
	num := func(v any) int64 { n, _ := v.(int64); return n }
	// Each call releases at most BudgetSweepChunk expired holds, so that
	// one read after a sale whose holds all lapsed unwatched does not
	// block Redis for seconds; an offer with more is read again until
	// its expired holds are all released, and its state is the last
	// read's.
	todo := make([]int, len(qs))
	for i := range todo {
		todo[i] = i
	}
	for len(todo) > 0 {
		calls := make([]*call, len(todo))
		for k, i := range todo {
			calls[k] = &call{script: scriptBudget, keys: []string{TotalKey(l.prefix, qs[i].OfferID)},
				args: []any{l.prefix, qs[i].OfferID, at, l.serverClock(), strings.Join(qs[i].Currencies, ","), chunk}}
		}
		if err := l.runPlain(ctx, calls); err != nil {
			return nil, fmt.Errorf("ledger: budgets: %w", err)
		}
		var again []int
		for k, c := range calls {
			vals, err := c.cmd.Slice()
			if err != nil || len(vals) < 4 || (len(vals)-4)%3 != 0 {
				return nil, fmt.Errorf("ledger: budget script answered %v (%v)", vals, err)
			}
			swept := num(vals[3])
			l.expiries.Add(uint64(swept))
			replies[todo[k]] = vals
			if swept >= int64(l.budgetChunk) {
				again = append(again, todo[k])
			}
		}
		todo = again
	}
	var out []engine.BudgetState
	for i, vals := range replies {
		st := engine.BudgetState{OfferID: qs[i].OfferID, Count: num(vals[0]), Held: num(vals[1]), OverCap: num(vals[2])}
		if len(vals) == 4 {
			out = append(out, st)
			continue
		}
		for k := 4; k+2 < len(vals); k += 3 {
			s := st
			s.Currency, _ = vals[k].(string)
			s.Spent, s.HeldAmount = num(vals[k+1]), num(vals[k+2])
			out = append(out, s)
		}
	}
	return out, nil
}

// BudgetSweepChunk bounds the expired holds one budget script releases
// (Budgets reads an offer again until all are): about a tenth of a
// second of Redis's time.
const BudgetSweepChunk = 10000

// Counts returns the learning counts of the named offers (every offer with
// counts when offers is nil), sorted by offer, cell and day: the hashes
// LearnKey, fields "<cell>|t|<day>" and "<cell>|s|<day>"
// (learning.Source).
func (l *Redis) Counts(ctx context.Context, offers []string) ([]learning.Count, error) {
	if offers == nil {
		var err error
		if offers, err = l.learnOffers(ctx); err != nil {
			return nil, err
		}
	}
	pipe := l.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(offers))
	for i, o := range offers {
		cmds[i] = pipe.HGetAll(ctx, LearnKey(l.prefix, o))
	}
	if len(offers) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("ledger: learning counts: %w", err)
		}
	}
	var out []learning.Count
	for i, o := range offers {
		byKey := map[string]*learning.Count{}
		for field, val := range cmds[i].Val() {
			cell, kind, day, ok := splitLearnField(field)
			n, err := strconv.ParseInt(val, 10, 64)
			if !ok || err != nil {
				continue
			}
			key := cell + "|" + strconv.Itoa(day)
			c := byKey[key]
			if c == nil {
				c = &learning.Count{Offer: o, Cell: cell, Day: day}
				byKey[key] = c
			}
			if kind == "s" {
				c.Successes += n
			} else {
				c.Trials += n
			}
		}
		for _, c := range byKey {
			if c.Trials != 0 || c.Successes != 0 {
				out = append(out, *c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Offer != b.Offer {
			return a.Offer < b.Offer
		}
		if a.Cell != b.Cell {
			return a.Cell < b.Cell
		}
		return a.Day < b.Day
	})
	return out, nil
}

// splitLearnField reads "<cell>|t|<day>" (the cell may hold "|").
func splitLearnField(f string) (cell, kind string, day int, ok bool) {
	i := strings.LastIndexByte(f, '|')
	if i < 2 || f[i-2] != '|' {
		return "", "", 0, false
	}
	d, err := strconv.Atoi(f[i+1:])
	kind = f[i-1 : i]
	if err != nil || (kind != "t" && kind != "s") {
		return "", "", 0, false
	}
	return f[:i-2], kind, d, true
}

// learnOffers lists the offers with learning counts (SCAN, on every master
// of a cluster).
func (l *Redis) learnOffers(ctx context.Context) ([]string, error) {
	pattern := l.prefix + "learn:{*}"
	var offers []string
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			k := strings.TrimPrefix(iter.Val(), l.prefix+"learn:{")
			offers = append(offers, strings.TrimSuffix(k, "}"))
		}
		return iter.Err()
	}
	var err error
	if cc, ok := l.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster calls fn on every master at once
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			var mine []string
			iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				mine = append(mine, strings.TrimSuffix(strings.TrimPrefix(iter.Val(), l.prefix+"learn:{"), "}"))
			}
			mu.Lock()
			offers = append(offers, mine...)
			mu.Unlock()
			return iter.Err()
		})
	} else {
		err = scan(ctx, l.client)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: listing learning counts: %w", err)
	}
	sort.Strings(offers)
	return offers, nil
}

// ResetLearning deletes the learning counts of the named offers (every
// offer's when offers is nil), and notes the time of the reset (the
// Redis server's) in their hashes: the outcomes of decisions made before
// it count no success, since their trials are deleted.
func (l *Redis) ResetLearning(ctx context.Context, offers []string) error {
	if offers == nil {
		var err error
		if offers, err = l.learnOffers(ctx); err != nil {
			return err
		}
	}
	if len(offers) == 0 {
		return nil
	}
	calls := make([]*call, len(offers))
	for i, o := range offers {
		calls[i] = &call{script: scriptResetLearn, keys: []string{LearnKey(l.prefix, o)}}
	}
	if err := l.runPlain(ctx, calls); err != nil {
		return fmt.Errorf("ledger: resetting learning counts: %w", err)
	}
	return nil
}

// Answer reads the state of c's key now: the answer stored for it
// (ClaimReplay), still pending, another body (ClaimConflict), or no longer
// claimed (ClaimUnknown).
func (l *Redis) Answer(ctx context.Context, c *engine.Claim) error {
	vals, err := l.client.HMGet(ctx, ClaimKey(l.prefix, c.Key), "h", "a").Result()
	if err != nil {
		return fmt.Errorf("ledger: reading an idempotency key: %w", err)
	}
	h, _ := vals[0].(string)
	a, hasAnswer := vals[1].(string)
	switch {
	case vals[0] == nil:
		c.State = engine.ClaimUnknown
	case h != string(c.Body[:]):
		c.State = engine.ClaimConflict
	case hasAnswer:
		c.State, c.Answer = engine.ClaimReplay, []byte(a)
	default:
		c.State = engine.ClaimPending
	}
	return nil
}

// StoreAnswer stores the answer of the decision that holds c, for later
// requests with the same key, and keeps the key for c.TTL from now (it was
// held for Options.ClaimLease until then); nothing when c's key is no
// longer its own.
func (l *Redis) StoreAnswer(ctx context.Context, c *engine.Claim, answer []byte) error {
	if err := scriptStoreAnswer.Run(ctx, l.client, []string{ClaimKey(l.prefix, c.Key)}, c.Owner, answer,
		strconv.FormatInt(c.TTL.Milliseconds(), 10)).Err(); err != nil {
		return fmt.Errorf("ledger: storing an idempotent answer: %w", err)
	}
	return nil
}

// Release gives up c's key when its decision could not be answered, so
// that a retry is decided afresh.
func (l *Redis) Release(ctx context.Context, c *engine.Claim) error {
	if err := scriptReleaseClaim.Run(ctx, l.client, []string{ClaimKey(l.prefix, c.Key)}, c.Owner).Err(); err != nil {
		return fmt.Errorf("ledger: releasing an idempotency key: %w", err)
	}
	return nil
}
