package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// wireOutcome is an outcome as it may arrive on NATS: Arbiter's own, or
// another service's with fewer fields.
type wireOutcome struct {
	Type        *string             `json:"type"`
	ID          string              `json:"id"`
	TS          *string             `json:"ts"`
	DecisionID  string              `json:"decision_id"`
	CustomerID  string              `json:"customer_id"`
	OfferID     string              `json:"offer_id"`
	Outcome     *string             `json:"outcome"`
	Value       *json.Number        `json:"value"`
	Currency    string              `json:"currency"`
	Experiments []engine.Assignment `json:"experiments"`
}

// ValidOutcome reports whether t is one of the four outcome types.
func ValidOutcome(t string) bool {
	switch t {
	case engine.OutcomeImpression, engine.OutcomeAccepted, engine.OutcomeDismissed, engine.OutcomeConverted:
		return true
	}
	return false
}

// ParseOutcome reads an outcome message published on subject (which must
// be <prefix>.outcome.<type>), by Arbiter or by another service. stored is
// when the stream stored it (the zero time for core NATS): it stands in for
// a missing ts. What is accepted is documented in docs/events.md:
//
//   - the outcome type is the subject's last token; a body "outcome" field,
//     when present, must agree; a "type" field, when present, must be
//     "outcome";
//   - id, ts, decision_id, customer_id, offer_id and experiments are
//     optional; a missing ts is the stored time;
//   - value is a JSON number (or a string holding one) in major units and
//     needs currency (an ISO 4217 code); it is kept exact in minor units,
//     rounded half up once to the currency's minor unit.
func ParseOutcome(prefix, subject string, data []byte, stored time.Time) (*engine.OutcomeEvent, error) {
	typ, ok := strings.CutPrefix(subject, prefix+".outcome.")
	if !ok || strings.Contains(typ, ".") {
		return nil, fmt.Errorf("subject %q: an outcome's subject is %s.outcome.<type>", subject, prefix)
	}
	if !ValidOutcome(typ) {
		return nil, fmt.Errorf("subject %q: unknown outcome type %q: write impression, accepted, dismissed or converted", subject, typ)
	}
	var w wireOutcome
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("subject %q: body is not a JSON outcome object: %w", subject, err)
	}
	if w.Type != nil && *w.Type != "outcome" {
		return nil, fmt.Errorf("subject %q: type: %q, want \"outcome\" (or leave it out)", subject, *w.Type)
	}
	if w.Outcome != nil && *w.Outcome != typ {
		return nil, fmt.Errorf("subject %q: outcome: %q disagrees with the subject's %q", subject, *w.Outcome, typ)
	}
	ev := &engine.OutcomeEvent{
		Type: "outcome", ID: w.ID, DecisionID: w.DecisionID, CustomerID: w.CustomerID,
		OfferID: w.OfferID, Outcome: typ, Currency: w.Currency, Experiments: w.Experiments,
	}
	if ev.Experiments == nil {
		ev.Experiments = []engine.Assignment{}
	}
	ev.TS = stored.UTC()
	if w.TS != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.TS)
		if err != nil {
			return nil, fmt.Errorf("subject %q: ts: %q is not an RFC 3339 time (like 2026-11-22T10:02:11.004Z)", subject, *w.TS)
		}
		ev.TS = t.UTC()
	}
	if w.Currency != "" {
		exp, ok := engine.CurrencyExp(w.Currency)
		if !ok {
			return nil, fmt.Errorf("subject %q: currency: %q is not an ISO 4217 code (like USD)", subject, w.Currency)
		}
		ev.Value.Exp = exp
	}
	if w.Value != nil {
		f, err := w.Value.Float64()
		if err != nil {
			return nil, fmt.Errorf("subject %q: value: %s is not a number", subject, w.Value.String())
		}
		if f != 0 && w.Currency == "" {
			return nil, fmt.Errorf("subject %q: value: %s has no currency: add \"currency\": \"USD\" (an ISO 4217 code)", subject, w.Value.String())
		}
		minor, ok := engine.ToMinor(f, ev.Value.Exp)
		if !ok {
			return nil, fmt.Errorf("subject %q: value: %s is out of range", subject, w.Value.String())
		}
		ev.Value.Minor = minor
	}
	return ev, nil
}

// Decision is what the readers of the stream need of a decision event.
type Decision struct {
	ID          string              `json:"id"`
	TS          time.Time           `json:"ts"`
	CustomerID  string              `json:"customer_id"`
	Placement   string              `json:"placement"`
	Experiments []engine.Assignment `json:"experiments"`
	Holdout     bool                `json:"holdout"`
}

// ParseDecision reads a decision event.
func ParseDecision(data []byte) (*Decision, error) {
	var d Decision
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decision event: %w", err)
	}
	return &d, nil
}
