package main

import (
	"log/slog"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events"
	"github.com/arbiterhq/arbiter/rules"
	"github.com/arbiterhq/arbiter/wire"
)

// publishReloaded publishes the rules_reloaded event of a reload at ts
// (wire.NewRulesReloaded): current is the ruleset in force after it,
// previous the version before it, loadErr the reload's error.
func publishReloaded(p *events.Publisher, log *slog.Logger, ts time.Time, current *rules.Ruleset, previous string, loadErr error) {
	m, err := wire.NewRulesReloaded(events.NewID("rld_", ts), ts, current, previous, loadErr).Message()
	if err != nil {
		log.Error("the rules_reloaded event cannot be encoded; not published", "error", err.Error())
		return
	}
	p.Publish(m)
}
