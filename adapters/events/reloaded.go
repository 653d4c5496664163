package events

import (
	"crypto/rand"
	"errors"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/rules"
)

// Results of a reload.
const (
	ReloadOK    = "ok"
	ReloadError = "error"
)

// RulesReloaded is published on <prefix>.rules.reloaded after every reload
// attempt, successful or not. It implements engine.Event.
type RulesReloaded struct {
	Type string    `json:"type"` // "rules_reloaded"
	ID   string    `json:"id"`   // "rld_" + ULID
	TS   time.Time `json:"ts"`
	// Version is the ruleset in force after the reload: the new one when
	// Result is "ok", the one still serving when it is "error" ("" when
	// none was ever loaded).
	Version string `json:"version"`
	// Previous is the ruleset in force before the reload ("" at start-up).
	Previous string `json:"previous"`
	Result   string `json:"result"` // "ok" or "error"
	// Errors are the load errors, one per problem, as file:line:col:
	// message; [] when the reload succeeded.
	Errors []string `json:"errors"`
	// Experiments of the ruleset in force, with their variants' weights:
	// what `arbiter experiments report` checks the sample ratio against.
	Experiments []ExperimentInfo `json:"experiments"`
}

// ExperimentInfo is an experiment's set-up as published in RulesReloaded.
type ExperimentInfo struct {
	ID       string        `json:"id"`
	Traffic  float64       `json:"traffic"`
	Variants []VariantInfo `json:"variants"`
}

// VariantInfo is one variant and its weight, in the order written.
type VariantInfo struct {
	ID     string  `json:"id"`
	Weight float64 `json:"weight"`
}

// EventID returns the event's id.
func (e *RulesReloaded) EventID() string { return e.ID }

// Subject returns <prefix>.rules.reloaded.
func (e *RulesReloaded) Subject(prefix string) string { return prefix + ".rules.reloaded" }

// NewRulesReloaded builds the event of a reload at ts: current is the
// ruleset in force after it (nil when none), previous the version before
// it ("" at start-up), loadErr the reload's error (nil: success; a
// rules.Errors is listed one problem per entry).
func NewRulesReloaded(ts time.Time, current *rules.Ruleset, previous string, loadErr error) *RulesReloaded {
	e := &RulesReloaded{
		Type:        "rules_reloaded",
		ID:          NewID("rld_", ts),
		TS:          ts.UTC(),
		Previous:    previous,
		Result:      ReloadOK,
		Errors:      []string{},
		Experiments: ExperimentsOf(current),
	}
	if current != nil {
		e.Version = current.Version
	}
	if loadErr != nil {
		e.Result = ReloadError
		var errs rules.Errors
		if errors.As(loadErr, &errs) {
			for _, x := range errs {
				e.Errors = append(e.Errors, x.Error())
			}
		} else {
			e.Errors = append(e.Errors, loadErr.Error())
		}
	}
	return e
}

// ExperimentsOf lists a ruleset's experiments and weights ([] for nil).
func ExperimentsOf(rs *rules.Ruleset) []ExperimentInfo {
	out := []ExperimentInfo{}
	if rs == nil {
		return out
	}
	for _, x := range rs.Experiments {
		info := ExperimentInfo{ID: x.ID, Traffic: x.Traffic, Variants: make([]VariantInfo, 0, len(x.Variants))}
		for _, v := range x.Variants {
			info.Variants = append(info.Variants, VariantInfo{ID: v.ID, Weight: v.Weight})
		}
		out = append(out, info)
	}
	return out
}

// NewID returns prefix + a ULID for time t (monotonic within the process
// only by time; random otherwise): the form of Arbiter's event ids
// ("out_", "rld_").
func NewID(prefix string, t time.Time) string {
	id, err := ulid.New(ulid.Timestamp(t), rand.Reader)
	if err != nil { // crypto/rand does not fail on supported platforms
		return prefix + ulid.Make().String()
	}
	return prefix + id.String()
}
