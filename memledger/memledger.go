// Package memledger is the reference ledger, in process memory: it
// implements the whole ledger contract exactly, with no I/O, for one
// process (the embedded and demo modes, rule tests, offline tools,
// simulations). adapters/ledger implements the same contract in Redis; a
// property test runs the same plans and outcomes through both and compares
// their states.
//
// The contract (docs/budgets.md says it for marketers):
//
//   - Reserve walks a plan (engine.Plan.Walk). A capped item is checked
//     against its per-customer cap (grants in a rolling window, or for
//     ever), its total (grants, or held + committed with a hold), its
//     budget (money, or held + committed money with a hold; each grant's
//     Spend counted in the plan's budget currency, engine.Plan.BudgetOf)
//     and its pacing (the count before it below PaceTotal, the spend
//     before it at most PaceBudget), in that order, and reserved when
//     granted. Each item is checked and reserved at once, under its
//     offer's mutex; two decisions walking at the same time may interleave
//     between offers (as on Redis Cluster, where the ledger runs a script
//     an offer), never inside one offer's caps.
//   - A grant of an item with a hold is held until Hold after the plan's
//     time; holds that have expired are released lazily, when the offer is
//     next walked (at most SweepLimit at a time), read or named by an
//     outcome: no sweeper is needed, and a replica that dies holding
//     reservations leaks nothing. A dry run releases nothing: it counts
//     the holds a walk would release as released.
//   - A granted item with Record keeps a record under the plan's Ref for
//     RecordTTL (plus its hold) and, with a Cell, counts a learning trial.
//   - Outcomes move recorded grants (Apply): see engine.GrantOutcome.
//   - An Idempotency-Key claim is made in the same call: the first plan
//     with a key claims it; a later one with the same key reserves nothing
//     and learns whether the first was answered (its answer), is pending,
//     or had another body. Here an unanswered claim is held for its TTL:
//     the process that would answer it is the one that holds it. The
//     Redis ledger, shared by replicas that may die before they answer,
//     holds it for a lease (adapters/ledger Options.ClaimLease) until the
//     answer is stored.
package memledger

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/learning"
)

// SweepLimit bounds the expired holds of one offer released by one walk:
// the walk stays short however many holds expired at once; the rest are
// released by the next walks and by reads (until then they are counted, so
// the cap is never exceeded: a unit may only be granted a little later).
const SweepLimit = 100

// DefaultRecordTTL is how long grant records are kept after their decision
// when Options.RecordTTL is 0: the default attribution window.
const DefaultRecordTTL = 7 * 24 * time.Hour

// Options configure a Ledger.
type Options struct {
	// RecordTTL is how long a grant record is kept after its decision
	// (plus the grant's hold): the attribution window. 0: DefaultRecordTTL.
	RecordTTL time.Duration
	// Now is the clock of outcomes and reads that give no time; nil:
	// time.Now. Walks use the plan's time.
	Now func() time.Time
}

// Ledger is the ledger in process memory, for one process: exact under
// concurrency, each offer's caps, holds, records and learning counts under
// the offer's own mutex, so that a walk checks and reserves each item at
// once (as Redis Cluster's split ledger does, one script an offer) and
// decisions for other offers do not wait for it. It implements
// engine.Ledger and learning.Source.
//
// One mutex for the whole ledger made every decision wait whenever the
// thread holding it was taken off the CPU: a trace of scenario a showed
// about 300 decisions queued on it at once (BENCHMARKS.md, issue 19, ninth
// pass).
type Ledger struct {
	o Options
	// offers maps an offer's id to its state; the map is replaced, never
	// changed (an offer once made stays), under offersMu.
	offers   atomic.Pointer[map[string]*offer]
	offersMu sync.Mutex
	claimsMu sync.Mutex
	claims   map[string]*claim
	claimQ   expiryQueue[string] // the claims' keys by expiry (expiry.go)
	// names hold one copy of each currency and cell a plan named: the
	// maps keep currencies and grant records name both by index
	// (records.go), and a plan's strings may be the request's, in memory
	// the server reuses (wire.RequestDecoder). The table is replaced,
	// never changed, under namesMu (records.go): a walk reads it without
	// a lock.
	names   atomic.Pointer[nameTable]
	namesMu sync.Mutex
	seq     atomic.Uint64
	ops     atomic.Uint64
	// nextSweep is the value of ops at which maintain sweeps next;
	// sweeping is set while one does.
	nextSweep atomic.Uint64
	sweeping  atomic.Bool
	holds     atomic.Uint64
	expiries  atomic.Uint64
}

// Stats counts what the ledger did on its own (not in answer to an
// outcome).
type Stats struct {
	Holds    uint64 // grants held
	Expiries uint64 // holds released because they expired
}

// offer is one offer's state, under its mutex.
type offer struct {
	mu      sync.Mutex
	grants  map[string][]int64 // per customer: grant times (ms), for caps in a rolling window
	counts  map[string]int     // per customer: grants, for caps for ever
	count   int64              // grants (held + committed with a hold)
	spent   map[string]int64   // money per currency (held + committed with a hold)
	held    []heldEntry        // sorted by (exp, member)
	heldN   int64
	heldAmt map[string]int64
	overCap int64
	records records
	learn   map[learnKey]int64
	// learnReset is when the learning counts were last reset (ms; 0:
	// never): the outcomes of decisions made before count no success.
	learnReset int64
}

// heldEntry is one held grant: its expiry (ms), its member (the
// decision's ref) and what it holds.
type heldEntry struct {
	exp    int64
	member string
	amount int64
	cur    string
}

func (h heldEntry) less(exp int64, member string) bool {
	return h.exp < exp || h.exp == exp && h.member < member
}

// Record states.
const (
	stateHeld      = 'H' // held (or expired, when no longer in the held set)
	stateCommitted = 'C'
	stateReleased  = 'R'
	stateCancelled = 'X'
	stateGranted   = 'G' // recorded for learning, without a hold
)

type learnKey struct {
	cell    string
	success bool
	day     int
}

type claim struct {
	body    [32]byte
	owner   string
	answer  []byte
	expires int64 // ms
}

// New returns an empty Ledger with the default options.
func New() *Ledger { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty Ledger.
func NewWithOptions(o Options) *Ledger {
	if o.RecordTTL <= 0 {
		o.RecordTTL = DefaultRecordTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &Ledger{o: o, claims: map[string]*claim{}}
	l.offers.Store(&map[string]*offer{})
	l.names.Store(&nameTable{list: []string{""}, idx: map[string]uint32{}})
	return l
}

var (
	_ engine.Ledger     = (*Ledger)(nil)
	_ learning.Source   = (*Ledger)(nil)
	_ learning.Resetter = (*Ledger)(nil)
)

// currency returns cur in the ledger's own memory (its copy in names):
// assigning to a map with a string key stores the key given, even over an
// equal one.
func (l *Ledger) currency(cur string) string { _, c := l.intern(cur); return c }

// lookup returns offer id's state, nil when it has none.
func (l *Ledger) lookup(id string) *offer { return (*l.offers.Load())[id] }

// each calls fn with every offer's id and state.
func (l *Ledger) each(fn func(id string, o *offer)) {
	for id, o := range *l.offers.Load() {
		fn(id, o)
	}
}

// offer returns offer id's state, made when it has none.
func (l *Ledger) offer(id string) *offer {
	if o := l.lookup(id); o != nil {
		return o
	}
	l.offersMu.Lock()
	defer l.offersMu.Unlock()
	old := *l.offers.Load()
	if o := old[id]; o != nil {
		return o
	}
	o := &offer{grants: map[string][]int64{}, counts: map[string]int{}, spent: map[string]int64{}, heldAmt: map[string]int64{},
		records: newRecords(), learn: map[learnKey]int64{}}
	m := make(map[string]*offer, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[strings.Clone(id)] = o // the plan's string may be the request's
	l.offers.Store(&m)
	return o
}

// Day is the learning day of a time: days since 1970-01-01, in UTC.
func Day(t time.Time) int { return int(t.UnixMilli() / 86_400_000) }

// Reserve walks p, reserving every capped item it grants, holding those
// with a hold, recording those with Record and counting their trials, and
// claims p.Claim first (a plan whose key was claimed before reserves
// nothing). A dry run reserves and records nothing; its claim is made like
// any other. It fails only when ctx is done.
func (l *Ledger) Reserve(ctx context.Context, p *engine.Plan) ([]engine.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.Now.UnixMilli()
	// Housekeeping runs at a real decision's time, never at a dry run's:
	// a dry run may ask for any time ("now" in the request, the console's
	// time travel), and one dated ahead would drop every grant record and
	// claim that has not expired yet.
	if !p.DryRun {
		l.maintain(now)
	}
	seq := l.seq.Add(1)
	// The call's token (a claim's owner, the member of a hold without a
	// reference), made only when one is needed.
	token := func() string { return "~" + strconv.FormatUint(seq, 36) }
	if c := p.Claim; c != nil && !l.claim(c, now, token) {
		return p.Walk(func(i int) engine.Result { return firstCap(&p.Items[i]) }), nil
	}
	// Each item is checked and reserved under its offer's mutex, one at a
	// time: no lock is held between two items.
	res := p.Walk(func(i int) engine.Result {
		it := &p.Items[i]
		o := l.offer(it.OfferID)
		spend, cur := p.BudgetOf(i) // the grant's Spend, in the budget's currency
		cur = l.currency(cur)       // kept by the maps and the hold
		o.mu.Lock()
		defer o.mu.Unlock()
		var gone, goneAmt int64 // expired holds a dry run counts out without releasing them
		// With a total or a budget, expired holds are released even when
		// the item has no hold: holds taken before a reload removed the
		// offer's hold still count until they expire (docs/budgets.md).
		if it.Hold > 0 || it.Total > 0 || it.Budget > 0 {
			if p.DryRun {
				gone, goneAmt = o.expired(now, SweepLimit, cur)
			} else {
				l.sweep(o, now, SweepLimit)
			}
		}
		if it.PerCustomer > 0 {
			if p.CustomerID == "" {
				return engine.SkippedCapPerCustomer
			}
			if o.customerCount(p.CustomerID, it.Window, now, !p.DryRun) >= it.PerCustomer {
				return engine.SkippedCapPerCustomer
			}
		}
		count, spent := o.count-gone, o.spent[cur]-goneAmt
		if it.Total > 0 && count >= it.Total {
			return engine.SkippedCapTotal
		}
		if it.Budget > 0 && spent+spend > it.Budget {
			return engine.SkippedBudget
		}
		if it.Paced && (it.Total > 0 && count >= it.PaceTotal || it.Budget > 0 && spent > it.PaceBudget) {
			return engine.SkippedPacing
		}
		if p.DryRun {
			return engine.Granted
		}
		if it.PerCustomer > 0 {
			// The plan's strings are the request's: the map keeps a copy
			// (assigning to a string key stores the key given).
			cust := strings.Clone(p.CustomerID)
			if it.Window > 0 {
				o.grants[cust] = append(o.grants[cust], now)
			} else {
				o.counts[cust]++
			}
		}
		if it.Total > 0 || it.Hold > 0 {
			o.count++
		}
		if it.Budget > 0 || it.Hold > 0 {
			o.spent[cur] += spend
		}
		if it.Hold > 0 {
			member := strings.Clone(p.Ref) // kept: the plan's strings are the request's
			if member == "" {
				member = token()
			}
			o.insertHeld(heldEntry{exp: now + it.Hold.Milliseconds(), member: member, amount: spend, cur: cur})
			o.heldN++
			o.heldAmt[cur] += spend
			l.holds.Add(1)
		}
		return engine.Granted
	})
	if p.DryRun || p.Ref == "" {
		return res, nil
	}
	day := Day(p.Now)
	for i, r := range res {
		it := &p.Items[i]
		if r != engine.Granted || !it.Record {
			continue
		}
		o := l.offer(it.OfferID)
		// The ledger's copy of the cell: the learning map keeps its key.
		cellIdx, cell := l.intern(it.Cell)
		rec := record{state: stateGranted, cell: cellIdx, day: int32(day), until: now + (l.o.RecordTTL + it.Hold).Milliseconds()}
		if it.Hold > 0 {
			rec.state, rec.hold = stateHeld, true
			spend, cur := p.BudgetOf(i)
			rec.amount, rec.cur, rec.exp = spend, l.nameIndex(cur), now+it.Hold.Milliseconds() // nameIndex keeps its own copy
		}
		o.mu.Lock()
		o.records.put(p.Ref, rec)
		if cell != "" {
			o.learn[learnKey{cell: cell, day: day}]++
		}
		o.mu.Unlock()
	}
	return res, nil
}

// claim makes c's claim at now, unless its key is claimed already: then it
// says what the claim found (c.State) and returns false, and the plan
// reserves nothing.
func (l *Ledger) claim(c *engine.Claim, now int64, token func() string) bool {
	l.claimsMu.Lock()
	defer l.claimsMu.Unlock()
	if cl := l.claims[c.Key]; cl != nil && cl.expires > now {
		cl.found(c)
		return false
	}
	tok := token()
	cl := &claim{body: c.Body, owner: tok, expires: now + c.TTL.Milliseconds()}
	l.claims[c.Key] = cl
	l.claimQ.push(cl.expires, c.Key)
	c.State, c.Owner, c.Answer = engine.ClaimNew, tok, nil
	return true
}

func firstCap(it *engine.PlanItem) engine.Result {
	switch {
	case it.PerCustomer > 0:
		return engine.SkippedCapPerCustomer
	case it.Total > 0:
		return engine.SkippedCapTotal
	case it.Budget > 0:
		return engine.SkippedBudget
	}
	return engine.Granted
}

// customerCount returns the grants of o to customer in the window ending
// at now (a grant at t counts while now - t < window), or for ever without
// a window (counted apart: a cap that changes from one to the other starts
// again). With prune, it also forgets the grants that fell out of the
// window; a dry run never prunes, since its "now" may be any time.
func (o *offer) customerCount(customer string, window time.Duration, now int64, prune bool) int {
	if window <= 0 {
		return o.counts[customer]
	}
	ts := o.grants[customer]
	since := now - window.Milliseconds()
	n := 0
	for _, t := range ts {
		if t > since {
			n++
		}
	}
	if prune && n < len(ts) {
		kept := ts[:0]
		for _, t := range ts {
			if t > since {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 {
			delete(o.grants, customer)
		} else {
			o.grants[strings.Clone(customer)] = kept // the plan's string is the request's
		}
	}
	return n
}

func (o *offer) insertHeld(h heldEntry) {
	i := sort.Search(len(o.held), func(i int) bool { return !o.held[i].less(h.exp, h.member) })
	o.held = append(o.held, heldEntry{})
	copy(o.held[i+1:], o.held[i:])
	o.held[i] = h
}

// findHeld returns the index of the held entry (exp, member), or -1.
func (o *offer) findHeld(exp int64, member string) int {
	i := sort.Search(len(o.held), func(i int) bool { return !o.held[i].less(exp, member) })
	if i < len(o.held) && o.held[i].exp == exp && o.held[i].member == member {
		return i
	}
	return -1
}

// unhold removes held entry i and its amounts from the held sums; with
// free, it also gives its unit and money back to the caps.
func (o *offer) unhold(i int, free bool) {
	h := o.held[i]
	o.held = append(o.held[:i], o.held[i+1:]...)
	o.heldN--
	o.heldAmt[h.cur] -= h.amount
	if free {
		o.count--
		o.spent[h.cur] -= h.amount
	}
}

// expired returns how many of the holds a walk at now would release first
// (up to limit, oldest first) and the money they hold in cur, releasing
// nothing: what a dry run counts out.
func (o *offer) expired(now int64, limit int, cur string) (n, amount int64) {
	for i := 0; i < len(o.held) && o.held[i].exp <= now && i < limit; i++ {
		n++
		if o.held[i].cur == cur {
			amount += o.held[i].amount
		}
	}
	return n, amount
}

// sweep releases up to limit holds of o that expired by now (oldest
// first); limit < 0: all.
func (l *Ledger) sweep(o *offer, now int64, limit int) {
	for n := 0; len(o.held) > 0 && o.held[0].exp <= now && (limit < 0 || n < limit); n++ {
		o.unhold(0, true)
		l.expiries.Add(1)
	}
}

// Sweeps of expired claims and grant records (maintain).
const (
	// maintainEvery is the number of calls between two sweeps.
	maintainEvery = 1024
	// maintainBudget bounds the expired entries one sweep visits, and so
	// the time it holds the claims' and the offers' mutexes; when more are
	// due, the next call sweeps again.
	maintainBudget = 8192
)

// maintain drops expired claims and grant records every maintainEvery
// calls, visiting only what is due (their expiry queues, expiry.go), at
// most maintainBudget of them, so that memory stays bounded by what is
// live and a sweep's cost does not grow with it. (Sweeps used to walk
// every claim and record, every max(4096, live/8) calls: with a million
// records live, the one call that swept held the ledger's one mutex for
// 9 ms.) One call sweeps at a time; the others go on.
func (l *Ledger) maintain(now int64) {
	if l.ops.Add(1) < l.nextSweep.Load() || !l.sweeping.CompareAndSwap(false, true) {
		return
	}
	defer l.sweeping.Store(false)
	budget := maintainBudget
	l.claimsMu.Lock()
	budget -= l.claimQ.popDue(now, budget, func(k string) {
		if c := l.claims[k]; c != nil && c.expires <= now {
			delete(l.claims, k)
		}
	})
	l.claimsMu.Unlock()
	l.each(func(_ string, o *offer) {
		if budget > 0 {
			o.mu.Lock()
			budget -= o.records.dropUntil(now, budget)
			o.mu.Unlock()
		}
	})
	next := l.ops.Load() + maintainEvery
	if budget <= 0 {
		next = l.ops.Load() + 1 // more may be due: go on at the next call
	}
	l.nextSweep.Store(next)
}

// Apply applies outcomes to the grant records of their decisions (see
// engine.GrantOutcome) and returns what each moved. It fails only when ctx
// is done.
func (l *Ledger) Apply(ctx context.Context, outs []engine.GrantOutcome) ([]engine.OutcomeResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := make([]engine.OutcomeResult, len(outs))
	for k := range outs {
		g := &outs[k]
		now := l.o.Now().UnixMilli()
		if !g.Now.IsZero() {
			now = g.Now.UnixMilli()
		}
		at := now
		if !g.At.IsZero() {
			at = g.At.UnixMilli()
		}
		for _, of := range g.Offers {
			if o := l.lookup(of.ID); o != nil {
				o.mu.Lock()
				l.apply(o, &of, g, now, at, &res[k])
				o.mu.Unlock()
			}
		}
	}
	return res, nil
}

// apply applies g to its record of o (o.mu held).
func (l *Ledger) apply(o *offer, of *engine.OutcomeOffer, g *engine.GrantOutcome, now, at int64, r *engine.OutcomeResult) {
	rec, ok := o.records.get(g.Ref)
	if !ok || rec.until <= now {
		return
	}
	was := rec
	recounted := l.transition(o, g, &rec, at, r)
	if rec != was {
		o.records.update(g.Ref, rec)
	}
	l.sweep(o, now, SweepLimit)
	// A commit whose unit had been released is over a cap when held +
	// committed pass it once the holds that lapsed by now are released:
	// judged before, the lapsed holds still counted and a commit within the
	// cap was counted over it.
	if recounted {
		cur := l.name(rec.cur)
		if b := budgetOf(of, cur); of.Total > 0 && o.count > of.Total || b > 0 && o.spent[cur] > b {
			o.overCap++
			r.OverCap++
		}
	}
}

// budgetOf is of's budget in minor units of cur, the currency of a grant:
// a budget counted per cart currency (BudgetMajor) in cur's own digits.
func budgetOf(of *engine.OutcomeOffer, cur string) int64 {
	if of.BudgetMajor <= 0 {
		return of.Budget
	}
	exp, ok := engine.CurrencyExp(cur)
	if !ok {
		exp = 2
	}
	return engine.BudgetMinor(of.BudgetMajor, exp)
}

// transition moves one record by one outcome occurred at at, and reports
// whether it committed a grant whose unit had been released (counted
// again: apply judges whether it passed a cap).
func (l *Ledger) transition(o *offer, g *engine.GrantOutcome, rec *record, at int64, r *engine.OutcomeResult) (recounted bool) {
	r.Records++
	if g.Reward != "" && g.Type == g.Reward && !rec.success && rec.cell != 0 &&
		(o.learnReset == 0 || g.DecisionTime.UnixMilli() >= o.learnReset) {
		rec.success = true
		o.learn[learnKey{cell: l.name(rec.cell), success: true, day: int(rec.day)}]++
		r.Successes++
	}
	if !rec.hold {
		return false
	}
	recount := func() {
		o.count++
		o.spent[l.name(rec.cur)] += rec.amount
		rec.state = stateCommitted
		recounted = true // over a cap or not: judged by apply, once lapsed holds are released
	}
	lateCommit := func() {
		recount()
		r.LateCommits++
	}
	switch rec.state {
	case stateHeld:
		i := o.findHeld(rec.exp, g.Ref)
		switch g.Type {
		case engine.OutcomeConverted:
			switch {
			case i >= 0 && at < rec.exp:
				o.unhold(i, false)
				rec.state = stateCommitted
				r.Commits++
			case i >= 0:
				o.unhold(i, true) // it had expired when the order came
				r.Expiries++
				lateCommit()
			case at < rec.exp:
				// Released when it lapsed (a walk or a read came after),
				// but the order occurred while it was held: a commit, of a
				// unit counted again.
				recount()
				r.Commits++
			default:
				lateCommit()
			}
		case engine.OutcomeDismissed:
			if i >= 0 {
				o.unhold(i, true)
				if at >= rec.exp {
					r.Expiries++
				} else {
					r.Releases++
				}
			}
			rec.state = stateReleased
		}
	case stateReleased:
		if g.Type == engine.OutcomeConverted {
			lateCommit()
		}
	case stateCommitted:
		if g.Type == engine.OutcomeCancelled {
			o.count--
			o.spent[l.name(rec.cur)] -= rec.amount
			rec.state = stateCancelled
			r.Cancels++
		}
	}
	return recounted
}

// Budgets returns the state of the queried offers' caps at now (zero: the
// ledger's clock), releasing the holds that expired by then first. An
// offer with no money counted has one state, in the currency "" (or in
// each queried currency).
func (l *Ledger) Budgets(ctx context.Context, now time.Time, qs []engine.BudgetQuery) ([]engine.BudgetState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = l.o.Now()
	}
	var out []engine.BudgetState
	for _, q := range qs {
		o := l.lookup(q.OfferID)
		if o == nil {
			o = &offer{}
		}
		o.mu.Lock()
		l.sweep(o, now.UnixMilli(), -1)
		curs := q.Currencies
		if curs == nil {
			for c := range o.spent {
				curs = append(curs, c)
			}
			sort.Strings(curs)
			if len(curs) == 0 {
				curs = []string{""}
			}
		}
		for _, c := range curs {
			out = append(out, engine.BudgetState{OfferID: q.OfferID, Currency: c, Count: o.count, Held: o.heldN,
				Spent: o.spent[c], HeldAmount: o.heldAmt[c], OverCap: o.overCap})
		}
		o.mu.Unlock()
	}
	return out, nil
}

// Counts returns the learning counts of the named offers (all when offers
// is nil), sorted by offer, cell and day (learning.Source).
func (l *Ledger) Counts(ctx context.Context, offers []string) ([]learning.Count, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if offers == nil {
		l.each(func(id string, _ *offer) { offers = append(offers, id) })
	}
	var out []learning.Count
	for _, id := range offers {
		o := l.lookup(id)
		if o == nil {
			continue
		}
		o.mu.Lock()
		byKey := map[[2]string]*learning.Count{}
		for k, n := range o.learn {
			key := [2]string{k.cell, strconv.Itoa(k.day)}
			c := byKey[key]
			if c == nil {
				c = &learning.Count{Offer: id, Cell: k.cell, Day: k.day}
				byKey[key] = c
			}
			if k.success {
				c.Successes += n
			} else {
				c.Trials += n
			}
		}
		o.mu.Unlock()
		for _, c := range byKey {
			out = append(out, *c)
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

// ResetLearning forgets the learning counts of the named offers (all when
// offers is nil), at the ledger's clock: the outcomes of decisions made
// before count no success, since their trials are forgotten.
func (l *Ledger) ResetLearning(ctx context.Context, offers []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := l.o.Now().UnixMilli()
	l.each(func(id string, o *offer) {
		if offers == nil || contains(offers, id) {
			o.mu.Lock()
			o.learn = map[learnKey]int64{}
			o.learnReset = now
			o.mu.Unlock()
		}
	})
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Answer reads the state of c's key now: the answer stored for it
// (ClaimReplay), still pending, another body (ClaimConflict), or no
// longer claimed (ClaimUnknown: it expired or its owner gave it up).
func (l *Ledger) Answer(ctx context.Context, c *engine.Claim) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.claimsMu.Lock()
	defer l.claimsMu.Unlock()
	if cl := l.claims[c.Key]; cl == nil || cl.expires <= l.o.Now().UnixMilli() {
		c.State = engine.ClaimUnknown
	} else {
		cl.found(c)
	}
	return nil
}

// found says what c meets in cl, a claim of its key still in force:
// another body, an answer, or a decision still pending.
func (cl *claim) found(c *engine.Claim) {
	switch {
	case cl.body != c.Body:
		c.State = engine.ClaimConflict
	case cl.answer != nil:
		c.State, c.Answer = engine.ClaimReplay, append([]byte(nil), cl.answer...)
	default:
		c.State = engine.ClaimPending
	}
}

// StoreAnswer stores the answer of the decision that holds c (ClaimNew),
// for later requests with the same key; nothing when c's key is no longer
// held by it.
func (l *Ledger) StoreAnswer(ctx context.Context, c *engine.Claim, answer []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.claimsMu.Lock()
	defer l.claimsMu.Unlock()
	if cl := l.claims[c.Key]; cl != nil && cl.owner == c.Owner {
		cl.answer = append([]byte(nil), answer...)
	}
	return nil
}

// Release gives up c's key when its decision could not be answered, so
// that a retry is decided afresh.
func (l *Ledger) Release(ctx context.Context, c *engine.Claim) error {
	l.claimsMu.Lock()
	defer l.claimsMu.Unlock()
	if cl := l.claims[c.Key]; cl != nil && cl.owner == c.Owner && cl.answer == nil {
		delete(l.claims, c.Key)
	}
	return nil
}

// Stats returns the ledger's counters.
func (l *Ledger) Stats() Stats { return Stats{Holds: l.holds.Load(), Expiries: l.expiries.Load()} }

// Spent returns the money counted against offerID's budget in currency
// (held + committed), in minor units.
func (l *Ledger) Spent(offerID, currency string) int64 {
	if o := l.lookup(offerID); o != nil {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.spent[currency]
	}
	return 0
}

// Total returns the grants of offerID counted against its total cap (held
// + committed).
func (l *Ledger) Total(offerID string) int64 {
	if o := l.lookup(offerID); o != nil {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.count
	}
	return 0
}

// Snapshot is the whole state of a ledger at a time, in a form two ledgers
// can be compared by (the property test of adapters/ledger): holds that
// expired by the time are released first. Maps hold no zero values.
type Snapshot struct {
	Count    map[string]int64  // offer: held + committed
	Spent    map[string]int64  // offer/currency
	Held     map[string]int64  // offer: held
	HeldAmt  map[string]int64  // offer/currency
	OverCap  map[string]int64  // offer
	Records  map[string]string // offer/ref: state, "+" when it succeeded
	Learning map[string]int64  // offer/cell/t|s/day
}

// Snapshot returns the ledger's state at now, for offers (each offer's at
// once; the offers one after another).
func (l *Ledger) Snapshot(now time.Time, offers []string) Snapshot {
	s := NewSnapshot()
	for _, id := range offers {
		if o := l.lookup(id); o != nil {
			o.mu.Lock()
			l.snapshot(s, id, o, now)
			o.mu.Unlock()
		}
	}
	return s
}

// snapshot adds o's state at now to s (o.mu held).
func (l *Ledger) snapshot(s Snapshot, id string, o *offer, now time.Time) {
	l.sweep(o, now.UnixMilli(), -1)
	s.add(s.Count, id, o.count)
	s.add(s.Held, id, o.heldN)
	s.add(s.OverCap, id, o.overCap)
	for c, v := range o.spent {
		s.add(s.Spent, id+"/"+c, v)
	}
	for c, v := range o.heldAmt {
		s.add(s.HeldAmt, id+"/"+c, v)
	}
	o.records.each(func(ref string, r record) {
		st := string(r.state)
		if r.state == stateHeld && o.findHeld(r.exp, ref) < 0 {
			st = string(stateReleased) // expired
		}
		if r.success {
			st += "+"
		}
		s.Records[id+"/"+ref] = st
	})
	for k, v := range o.learn {
		ts := "t"
		if k.success {
			ts = "s"
		}
		s.add(s.Learning, id+"/"+k.cell+"/"+ts+"/"+strconv.Itoa(k.day), v)
	}
}

// NewSnapshot returns an empty Snapshot.
func NewSnapshot() Snapshot {
	return Snapshot{Count: map[string]int64{}, Spent: map[string]int64{}, Held: map[string]int64{}, HeldAmt: map[string]int64{},
		OverCap: map[string]int64{}, Records: map[string]string{}, Learning: map[string]int64{}}
}

// Add sets m[k] to v unless v is 0 (snapshots hold no zeros), adding to
// what is there.
func (s Snapshot) add(m map[string]int64, k string, v int64) {
	if v != 0 {
		m[k] += v
	}
}

// Add is add for other ledgers building a Snapshot.
func (s Snapshot) Add(m map[string]int64, k string, v int64) { s.add(m, k, v) }

// String is the snapshot in a stable text form, one fact per line.
func (s Snapshot) String() string {
	var lines []string
	for name, m := range map[string]map[string]int64{"count": s.Count, "spent": s.Spent, "held": s.Held, "held_amount": s.HeldAmt,
		"over_cap": s.OverCap, "learning": s.Learning} {
		for k, v := range m {
			lines = append(lines, name+" "+k+" = "+strconv.FormatInt(v, 10))
		}
	}
	for k, v := range s.Records {
		lines = append(lines, "record "+k+" = "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
