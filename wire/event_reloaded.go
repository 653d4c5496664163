package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// Results of a reload.
const (
	ReloadOK    = "ok"
	ReloadError = "error"
)

// RulesReloaded is published on <prefix>.rules.reloaded after every reload
// attempt, successful or not. Its JSON form is its fields' tags.
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
	// Holdout is the holdout percent of the ruleset in force (absent when
	// none is loaded): what `experiments report holdout` checks against.
	Holdout *float64 `json:"holdout,omitempty"`
	// Schema is the events' schema version (SPEC-LOOP: every event says
	// 2); 0 when read from an event of schema 1.
	Schema int `json:"schema"`
}

// ExperimentInfo is an experiment's set-up as published in RulesReloaded.
type ExperimentInfo struct {
	ID       string        `json:"id"`
	Traffic  float64       `json:"traffic"`
	Variants []VariantInfo `json:"variants"`
	// Salt is the experiment's salt (its id unless written).
	Salt string `json:"salt,omitempty"`
	// Layer and Buckets: the experiment's layer and its range of layer
	// buckets [from, to], both included; absent without a layer.
	Layer   string `json:"layer,omitempty"`
	Buckets []int  `json:"buckets,omitempty"`
	// Status is "stopped" for an experiment that enrolls no one; absent
	// while it runs.
	Status string `json:"status,omitempty"`
	// When is the experiment's eligibility condition as written; absent
	// for everyone.
	When string `json:"when,omitempty"`
}

// VariantInfo is one variant and its weight, in the order written.
type VariantInfo struct {
	ID     string  `json:"id"`
	Weight float64 `json:"weight"`
}

// NewRulesReloaded builds the event of a reload at ts, whose event id is
// id ("rld_" + ULID): current is the ruleset in force after it (nil when
// none), previous the version before it ("" at start-up), loadErr the
// reload's error (nil: success; a rules.Errors is listed one problem per
// entry).
func NewRulesReloaded(id string, ts time.Time, current *rules.Ruleset, previous string, loadErr error) *RulesReloaded {
	e := &RulesReloaded{
		Type:        "rules_reloaded",
		ID:          id,
		TS:          ts.UTC(),
		Previous:    previous,
		Result:      ReloadOK,
		Errors:      []string{},
		Experiments: experimentsOf(current),
		Schema:      Schema,
	}
	if current != nil {
		e.Version = current.Version
		h := current.Arbitration.Holdout
		e.Holdout = &h
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

// experimentsOf lists a ruleset's experiments and weights ([] for nil).
func experimentsOf(rs *rules.Ruleset) []ExperimentInfo {
	out := []ExperimentInfo{}
	if rs == nil {
		return out
	}
	for _, x := range rs.Experiments {
		info := ExperimentInfo{ID: x.ID, Traffic: x.Traffic, Variants: make([]VariantInfo, 0, len(x.Variants)),
			Salt: x.Salt, Layer: x.Layer, Status: x.Status}
		if x.Layer != "" {
			info.Buckets = []int{x.From, x.To}
		}
		if x.When != nil {
			info.When = x.When.Source
		}
		for _, v := range x.Variants {
			info.Variants = append(info.Variants, VariantInfo{ID: v.ID, Weight: v.Weight})
		}
		out = append(out, info)
	}
	return out
}

// Message returns the event as it is published, on rules.reloaded.
func (e *RulesReloaded) Message() (*Message, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("rules_reloaded event %s: %w", e.ID, err)
	}
	return &Message{ID: e.ID, Kind: KindRules, Key: "reloaded", JSON: b}, nil
}

// ParseRulesReloaded reads a rules_reloaded event; fields it does not know
// are ignored.
func ParseRulesReloaded(data []byte) (*RulesReloaded, error) {
	var e RulesReloaded
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("rules_reloaded event: %w", err)
	}
	return &e, nil
}
