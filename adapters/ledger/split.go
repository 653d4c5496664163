package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/arbiterhq/arbiter/engine"
)

// reserveSplit is ModeSplit: one pipeline of per-slot scripts (the
// customer's per-customer caps; one script per offer that has a total, a
// budget or a record to write; the Idempotency-Key), the walk in Go on
// their answers, then a background release of what the walk did not use.
func (l *Redis) reserveSplit(ctx context.Context, p *engine.Plan, token string) ([]engine.Result, error) {
	n := len(p.Items)
	now := strconv.FormatInt(p.Now.UnixMilli(), 10)
	pcRes := make([]byte, n) // '1' reserved, '5' full, 0 not asked
	fleetRes := make([]byte, n)
	fleetCall := make([]*call, n)
	var calls []*call

	// The customer's slot.
	var cust *call
	var cItems []int
	if p.CustomerID != "" {
		ctag := CustomerTag(p.CustomerID)
		args := []any{now, l.walkClock(p), boolArg(p.DryRun), token, l.prefix, ctag}
		for i := range p.Items {
			if it := &p.Items[i]; it.PerCustomer > 0 {
				args = append(args, it.OfferID, strconv.Itoa(it.PerCustomer), strconv.FormatInt(it.Window.Milliseconds(), 10))
				cItems = append(cItems, i)
			}
		}
		if len(cItems) > 0 {
			tag := "{" + ctag + "}:" + token
			cust = &call{script: scriptCustomer, keys: []string{l.prefix + "tomb:" + tag, l.prefix + "jrnl:" + tag}, args: args}
			calls = append(calls, cust)
		}
	}
	// One script per offer that has fleet-wide work.
	for i := range p.Items {
		it := &p.Items[i]
		if !(it.Total > 0 || it.Budget > 0 || (it.Record && !p.DryRun && p.Ref != "")) {
			continue
		}
		tag := "{" + it.OfferID + "}:" + token
		args := []any{now, l.walkClock(p), boolArg(p.DryRun), token, l.prefix, p.Ref, day(p.Now), budgetCurrency(p),
			strconv.FormatInt(l.opts.RecordTTL.Milliseconds(), 10), strconv.Itoa(SweepLimit)}
		args = l.itemArgs(args, p, i)
		fleetCall[i] = &call{script: scriptFleet, keys: []string{l.prefix + "tomb:" + tag, l.prefix + "jrnl:" + tag}, args: args}
		calls = append(calls, fleetCall[i])
	}
	// The Idempotency-Key, in its own slot.
	var claim *call
	if c := p.Claim; c != nil {
		ck := ClaimKey(l.prefix, c.Key)
		claim = &call{script: scriptClaim, keys: []string{ck, ck + ":tomb:" + token},
			args: []any{token, string(c.Body[:]), l.claimTTL(c)}}
		calls = append(calls, claim)
	}

	// What undoes each call: all of it when the caller gave up (or the
	// claim was taken), or the unused part after the walk.
	releaseCust := func(mask string) *call {
		return &call{script: scriptReleaseCustomer, keys: cust.keys, args: append(append([]any(nil), cust.args...), mask)}
	}
	releaseFleetOf := func(i int, gone bool) *call {
		c := fleetCall[i]
		flag := "unused"
		if gone {
			flag = "gone"
		}
		return &call{script: scriptReleaseFleet, keys: c.keys, args: append(append([]any(nil), c.args...), flag)}
	}
	undoAll := func() {
		if p.DryRun && claim == nil {
			return
		}
		var us []*call
		if cust != nil && !p.DryRun {
			us = append(us, releaseCust(""))
		}
		for i := range fleetCall {
			if fleetCall[i] != nil && !p.DryRun {
				us = append(us, releaseFleetOf(i, true))
			}
		}
		if claim != nil {
			us = append(us, &call{script: scriptReleaseClaim, keys: claim.keys, args: []any{token}})
		}
		l.undo(us...)
	}

	if len(calls) == 0 {
		return p.Walk(func(i int) engine.Result { return firstCapOf(&p.Items[i]) }), nil
	}
	acked, err := l.run(ctx, calls)
	swept := 0
	var firstErr error
	if err != nil {
		firstErr = err
	}
	for _, c := range calls {
		if firstErr == nil {
			if e := c.cmd.Err(); e != nil {
				firstErr = e
			}
		}
	}
	if firstErr == nil && l.opts.Replicas > 0 && acked < l.opts.Replicas {
		l.unreplicated.Add(1)
		firstErr = fmt.Errorf("%w (%d of %d)", ErrNotReplicated, acked, l.opts.Replicas)
	}
	if firstErr == nil && cust != nil {
		reply, _ := cust.cmd.Text()
		if len(reply) != len(cItems) {
			firstErr = fmt.Errorf("ledger: customer script answered %q for %d items", reply, len(cItems))
		} else {
			for j, i := range cItems {
				pcRes[i] = reply[j]
			}
		}
	}
	for i, c := range fleetCall {
		if c == nil || firstErr != nil {
			continue
		}
		reply, _ := c.cmd.Text()
		if k := strings.IndexByte(reply, '/'); k >= 0 {
			s, _ := strconv.Atoi(reply[k+1:])
			swept += s
			reply = reply[:k]
		}
		if len(reply) != 1 || !strings.Contains("1679", reply) {
			firstErr = fmt.Errorf("ledger: offer script answered %q", reply)
			continue
		}
		fleetRes[i] = reply[0]
	}
	if firstErr == nil && claim != nil {
		reply, _ := claim.cmd.Text()
		if reply == "" || reply == "T" || !applyClaimHead(p.Claim, reply[0], reply[1:]) {
			firstErr = fmt.Errorf("ledger: claim script answered %q", reply)
		}
	}
	if firstErr != nil {
		undoAll()
		return nil, fmt.Errorf("ledger: redis: %w", firstErr)
	}
	l.expiries.Add(uint64(swept))
	if c := p.Claim; c != nil {
		if c.State != engine.ClaimNew {
			// Another decision holds the key: give back everything, keep
			// the claim as it is.
			claim = nil
			undoAll()
			return firstCaps(p), nil
		}
		c.Owner = token
	}

	results := p.Walk(func(i int) engine.Result {
		it := &p.Items[i]
		switch {
		case it.PerCustomer > 0 && pcRes[i] != '1':
			return engine.SkippedCapPerCustomer
		case fleetCall[i] != nil && fleetRes[i] == '6':
			return engine.SkippedCapTotal
		case fleetCall[i] != nil && fleetRes[i] == '7':
			return engine.SkippedBudget
		case fleetCall[i] != nil && fleetRes[i] == '9':
			return engine.SkippedPacing
		}
		return engine.Granted
	})
	if !p.DryRun {
		var rel []*call
		if cust != nil {
			mask := make([]byte, len(cItems))
			any := false
			for j, i := range cItems {
				mask[j] = '0'
				if results[i] != engine.Granted && pcRes[i] == '1' {
					mask[j], any = '1', true
				}
			}
			if any {
				rel = append(rel, releaseCust(string(mask)))
			}
		}
		for i := range fleetCall {
			if fleetCall[i] != nil && results[i] != engine.Granted && fleetRes[i] == '1' {
				rel = append(rel, releaseFleetOf(i, false))
			}
		}
		l.release(rel...)
	}
	return results, nil
}

func firstCapOf(it *engine.PlanItem) engine.Result {
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
