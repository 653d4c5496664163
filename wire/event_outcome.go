package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// Outcome types.
const (
	OutcomeImpression = "impression"
	OutcomeAccepted   = "accepted"
	OutcomeDismissed  = "dismissed"
	OutcomeConverted  = "converted"
	// OutcomeCancelled: the order was returned or cancelled; it gives a
	// committed grant back to its offer's caps, for good.
	OutcomeCancelled = "cancelled"
)

// OutcomeSchema is the schema of the outcome events Arbiter publishes.
const OutcomeSchema = 2

// MaxOutcomeFuture is how far after its arrival an outcome's occurred_at
// may be (clocks differ a little): POST /v1/outcomes answers 400 to one
// further ahead, and ParseOutcome rejects it alike.
const MaxOutcomeFuture = time.Minute

// ValidOutcome reports whether t is one of the outcome types.
func ValidOutcome(t string) bool {
	switch t {
	case OutcomeImpression, OutcomeAccepted, OutcomeDismissed, OutcomeConverted, OutcomeCancelled:
		return true
	}
	return false
}

// OutcomeEvent is published on <prefix>.outcome.<type> for every outcome:
// what happened after a decision, with the experiment variants of that
// decision. Its JSON form is its fields' tags.
type OutcomeEvent struct {
	Type   string `json:"type"` // "outcome"
	Schema int    `json:"schema,omitempty"`
	// ID is the event's id: "out_" + a ULID, or, when the caller gave its
	// own id, "out_" + 26 characters of a hash of the decision, offer, type
	// and that id (a retried post is the same event).
	ID         string    `json:"id"`
	TS         time.Time `json:"ts"`
	DecisionID string    `json:"decision_id"`
	CustomerID string    `json:"customer_id"`
	// OfferID is "" (left out) for an outcome of the whole decision.
	OfferID     string       `json:"offer_id,omitempty"`
	Outcome     string       `json:"outcome"` // one of the outcome types
	Value       engine.Money `json:"value"`   // in minor units of Currency; 0 when none was sent
	Currency    string       `json:"currency,omitempty"`
	Experiments []Assignment `json:"experiments"`
	// OccurredAt is when it happened (the caller's occurred_at, else its
	// arrival); zero in events of other services that do not say.
	OccurredAt time.Time `json:"occurred_at,omitzero"`
	// CallerID is the caller's own id of the outcome, when it sent one.
	CallerID string `json:"caller_id,omitempty"`
	// Verified: the decision's signature was checked and the outcome was
	// applied to its grant records by the Arbiter that published it. false
	// (or absent, from other services): whoever counts it checks it first.
	// Anyone may write true: only a Seal made with the fleet's key says
	// that Arbiter did.
	Verified bool `json:"verified"`
	// Seal, in an event Arbiter published with Verified true, is the
	// decisionid seal of SealMessage with the fleet's decision key: the
	// proof, which another service cannot make, that Arbiter itself
	// applied this outcome to the grant records. "" (left out) otherwise.
	Seal string `json:"seal,omitempty"`

	// Arrival is when the outcome arrived, the time its attribution
	// window and holds are measured to when it has no occurred_at: for an
	// event read from a stream, when the stream stored it (ParseOutcome's
	// stored; TS when that is zero, as for a file), never the ts its body
	// states, which its publisher's clock or a replay decides; for one made
	// by NewOutcomeEvent, its arrival at the API (TS). Not in the JSON.
	Arrival time.Time `json:"-"`
}

// NewOutcomeEvent returns the event of an outcome posted to POST
// /v1/outcomes: id is its event id, ts its arrival, experiments the
// decision's variants (copied), verified whether it was checked and
// applied to the grant records.
func NewOutcomeEvent(o *Outcome, id string, ts time.Time, experiments []engine.Assignment, verified bool) *OutcomeEvent {
	occurred := o.OccurredAt
	if occurred.IsZero() {
		occurred = ts
	}
	return &OutcomeEvent{
		Type:        KindOutcome,
		Schema:      OutcomeSchema,
		ID:          id,
		TS:          ts.UTC(),
		DecisionID:  o.DecisionID,
		CustomerID:  o.CustomerID,
		OfferID:     o.OfferID,
		Outcome:     o.Type,
		Value:       o.Value,
		Currency:    o.Currency,
		Experiments: assignments(experiments),
		OccurredAt:  occurred.UTC(),
		CallerID:    o.ID,
		Verified:    verified,
		Arrival:     ts.UTC(),
	}
}

// sealVersion begins SealMessage: what a seal covers, version 1.
const sealVersion = "arbiter.outcome.verified/1"

// SealMessage is what an outcome event's Seal is made over: its id, and
// every field that says which grant records it moved and how (decision,
// customer, offer, type, occurred_at) or what it counts (value, currency,
// experiments), each as it reads back from the event's JSON, and each
// preceded by its length, so that no two events have the same message.
// An event whose Seal checks was applied by the Arbiter that published
// it; one with any of these fields changed, or with another event's Seal,
// is not.
func (e *OutcomeEvent) SealMessage() []byte {
	b := make([]byte, 0, 192)
	b = append(b, sealVersion...)
	field := func(f string) {
		b = append(strconv.AppendInt(append(b, ' '), int64(len(f)), 10), ':')
		b = append(b, f...)
	}
	for _, f := range []string{e.ID, e.DecisionID, e.CustomerID, e.OfferID, e.Outcome, e.Currency} {
		field(f)
	}
	field(strconv.FormatInt(e.Value.Minor, 10))
	at := ""
	if !e.OccurredAt.IsZero() {
		at = e.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	field(at)
	field(strconv.Itoa(len(e.Experiments)))
	for _, a := range e.Experiments {
		field(a.ID)
		field(a.Variant)
		field(a.Layer)
	}
	return b
}

// Message returns the event as it is published, on outcome.<type>.
func (e *OutcomeEvent) Message() (*Message, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("outcome event %s: %w", e.ID, err)
	}
	return &Message{ID: e.ID, Kind: KindOutcome, Key: e.Outcome, JSON: b}, nil
}

// wireOutcome is an outcome as it may arrive on NATS: Arbiter's own, or
// another service's with fewer fields.
type wireOutcome struct {
	Type        *string      `json:"type"`
	ID          string       `json:"id"`
	TS          *string      `json:"ts"`
	DecisionID  string       `json:"decision_id"`
	CustomerID  string       `json:"customer_id"`
	OfferID     string       `json:"offer_id"`
	Outcome     *string      `json:"outcome"`
	Value       *json.Number `json:"value"`
	Currency    string       `json:"currency"`
	Experiments []Assignment `json:"experiments"`
	Schema      int          `json:"schema"`
	OccurredAt  *string      `json:"occurred_at"`
	CallerID    string       `json:"caller_id"`
	Verified    bool         `json:"verified"`
	Seal        string       `json:"seal"`
}

// ParseOutcome reads an outcome message published on subject (which must
// be <prefix>.outcome.<type>), by Arbiter or by another service. stored is
// when the stream stored it (the zero time for core NATS): it stands in for
// a missing ts. What is accepted is documented in docs/events.md:
//
//   - the outcome type is the subject's last token; a body "outcome" field,
//     when present, must agree; a "type" field, when present, must be
//     "outcome";
//   - id, ts, decision_id, customer_id, offer_id, experiments, schema,
//     occurred_at (RFC 3339), caller_id, verified and seal are optional; a
//     missing ts is the stored time; the event's Arrival is the stored
//     time whatever its ts says (ts when stored is zero); occurred_at may be at most
//     MaxOutcomeFuture after the arrival (stored, else ts), as in POST
//     /v1/outcomes;
//   - value is a JSON number (or a string holding one) in major units and
//     needs currency (an ISO 4217 code) unless it is 0; it is read exactly,
//     without a float, into minor units, rounded half away from zero once
//     to the currency's minor unit, up to 2^53 minor units (what POST
//     /v1/outcomes accepts).
func ParseOutcome(prefix, subject string, data []byte, stored time.Time) (*OutcomeEvent, error) {
	typ, ok := strings.CutPrefix(subject, prefix+"."+KindOutcome+".")
	if !ok || strings.Contains(typ, ".") {
		return nil, fmt.Errorf("subject %q: an outcome's subject is %s.outcome.<type>", subject, prefix)
	}
	if !ValidOutcome(typ) {
		return nil, fmt.Errorf("subject %q: unknown outcome type %q: write impression, accepted, dismissed, converted or cancelled", subject, typ)
	}
	var w wireOutcome
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("subject %q: body is not a JSON outcome object: %w", subject, err)
	}
	if w.Type != nil && *w.Type != KindOutcome {
		return nil, fmt.Errorf("subject %q: type: %q, want \"outcome\" (or leave it out)", subject, *w.Type)
	}
	if w.Outcome != nil && *w.Outcome != typ {
		return nil, fmt.Errorf("subject %q: outcome: %q disagrees with the subject's %q", subject, *w.Outcome, typ)
	}
	ev := &OutcomeEvent{
		Type: KindOutcome, Schema: w.Schema, ID: w.ID, DecisionID: w.DecisionID, CustomerID: w.CustomerID,
		OfferID: w.OfferID, Outcome: typ, Currency: w.Currency, Experiments: w.Experiments,
		CallerID: w.CallerID, Verified: w.Verified, Seal: w.Seal,
	}
	if w.OccurredAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.OccurredAt)
		if err != nil {
			return nil, fmt.Errorf("subject %q: occurred_at: %q is not an RFC 3339 time (like 2026-11-22T10:02:11Z)", subject, *w.OccurredAt)
		}
		ev.OccurredAt = t.UTC()
	}
	if ev.Experiments == nil {
		ev.Experiments = []Assignment{}
	}
	ev.TS = stored.UTC()
	if w.TS != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.TS)
		if err != nil {
			return nil, fmt.Errorf("subject %q: ts: %q is not an RFC 3339 time (like 2026-11-22T10:02:11.004Z)", subject, *w.TS)
		}
		ev.TS = t.UTC()
	}
	// The arrival is when the stream stored it (a ts the body states may
	// be as far ahead as its occurred_at, or long before: a replay), else
	// its ts.
	arrival := stored.UTC()
	if arrival.IsZero() {
		arrival = ev.TS
	}
	ev.Arrival = arrival
	if !ev.OccurredAt.IsZero() && !arrival.IsZero() && ev.OccurredAt.After(arrival.Add(MaxOutcomeFuture)) {
		return nil, fmt.Errorf("subject %q: occurred_at: %s is %s after the outcome arrived (%s): write when it happened, in RFC 3339 with its UTC offset (2026-11-22T11:02:11+01:00), or leave it out for its arrival",
			subject, *w.OccurredAt, ev.OccurredAt.Sub(arrival).Round(time.Second), arrival.Format(time.RFC3339))
	}
	if w.Currency != "" {
		exp, ok := engine.CurrencyExp(w.Currency)
		if !ok {
			return nil, fmt.Errorf("subject %q: currency: %q is not an ISO 4217 code (like USD)", subject, w.Currency)
		}
		ev.Value.Exp = exp
	}
	if w.Value != nil {
		txt := []byte(w.Value.String())
		if v, exact, ok := parseDecimal(txt, ev.Value.Exp); w.Currency == "" && !(ok && exact && v == 0) {
			return nil, fmt.Errorf("subject %q: value: %s has no currency: add \"currency\": \"USD\" (an ISO 4217 code)", subject, txt)
		}
		minor, ok := roundDecimal(txt, ev.Value.Exp)
		if !ok {
			return nil, fmt.Errorf("subject %q: value: %s is out of range: at most %d minor units of %s", subject, txt, int64(maxMinor), w.Currency)
		}
		ev.Value.Minor = minor
	}
	return ev, nil
}
