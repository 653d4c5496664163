package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// DecisionEvent is published on <prefix>.decision.<placement> for every
// decision that is not a dry run: what was decided, for whom, where and
// under which ruleset, for the experiment report, the statistics and the
// replay of decisions.
//
// Its JSON form is its fields' tags (the spec's "Events on NATS"): the
// hot path writes it with AppendDecisionEvent, anything else with
// Message or encoding/json, to the same bytes. Readers take it with
// ParseDecisionEvent, which ignores the fields it does not know, so that a
// reader of this schema reads the events of a later one. A later schema
// adds fields (and says so in a "schema" field); it never changes or
// removes one of these.
type DecisionEvent struct {
	Type        string        `json:"type"` // "decision"
	ID          string        `json:"id"`   // the decision id, "dcs_" + ULID
	TS          time.Time     `json:"ts"`   // the decision's time
	CustomerID  string        `json:"customer_id"`
	Placement   string        `json:"placement"`
	Channel     string        `json:"channel"`
	Ruleset     string        `json:"ruleset"`
	Segments    []string      `json:"segments"`
	Experiments []Assignment  `json:"experiments"`
	Holdout     bool          `json:"holdout"`
	CartTotal   engine.Money  `json:"cart_total"` // in the currency's minor units
	Currency    string        `json:"currency"`   // "" without a cart
	Actions     []EventAction `json:"actions"`
	Degraded    []string      `json:"degraded"`
	TookUS      int64         `json:"took_us"`
	// Schema is the events' schema version: 2 (SPEC-LOOP), 0 when read
	// from an event of schema 1.
	Schema int `json:"schema"`
	// Profile is what the decision read of the customer's profile:
	// "known", and the values of the fields the ruleset reads except those
	// marked pii (rules.Ruleset.RecordedFields); times in RFC 3339, lists
	// as arrays. Read back, numbers are float64 and times strings.
	Profile map[string]any `json:"profile"`
	// Learning (schema 2) is, when the ruleset learns, the propensity of
	// every offer whose score reads it and that reached scoring, chosen
	// or not, with the posterior it came from; [] otherwise.
	Learning []EventLearning `json:"learning"`
	// Now (schema 2) is the decision's time, to the millisecond, as the
	// engine used it; left out of dry runs (which are not published).
	Now MilliTime `json:"now,omitzero"`
	// Request (schema 2) is the request decided, in the form of a POST
	// /v1/decide body (AppendRequest), which DecodeDecide reads back into
	// the same engine.Request; left out of dry runs and of an event that
	// would not fit in a message of the stream (RequestTruncated).
	Request json.RawMessage `json:"request,omitempty"`
	// RequestTruncated (schema 2) says that the request was left out
	// because the event would have exceeded the stream's message size.
	RequestTruncated bool `json:"request_truncated,omitempty"`
}

// EventLearning is one offer's propensity in a decision, as the event
// records it: the cell, the posterior's parameters used (prior plus
// statistics; the prior alone when the decision used the prior) and the
// value the score read. With the decision id they reproduce a Thompson
// draw exactly.
type EventLearning struct {
	OfferID    string  `json:"offer_id"`
	Cell       string  `json:"cell"`
	Alpha      float64 `json:"alpha"`
	Beta       float64 `json:"beta"`
	Propensity float64 `json:"propensity"`
}

// Schema is the version of the events Arbiter writes.
const Schema = 2

// EventAction is an action as a decision event records it.
type EventAction struct {
	OfferID        string       `json:"offer_id"`
	Kind           string       `json:"kind"`
	DiscountAmount engine.Money `json:"discount_amount"` // 0 for an action without a discount
	Score          float64      `json:"score"`
	// Cell (schema 2) is the learning cell its outcomes count in, for an
	// offer whose score reads propensity; left out otherwise.
	Cell string `json:"cell,omitempty"`
}

// NewDecisionEvent returns d's event, sharing no memory with d: every list
// is copied, and empty lists are [] not null.
func NewDecisionEvent(d *engine.Decision) *DecisionEvent {
	ev := &DecisionEvent{
		Type:        KindDecision,
		ID:          d.DecisionID,
		TS:          d.Now.UTC(), // as every time of an event (docs/events.md)
		CustomerID:  d.CustomerID,
		Placement:   d.Placement,
		Channel:     d.Channel,
		Ruleset:     d.Ruleset,
		Segments:    append(make([]string, 0, len(d.Segments)), d.Segments...),
		Experiments: assignments(d.Experiments),
		Holdout:     d.Holdout,
		CartTotal:   d.CartTotal,
		Currency:    d.Currency,
		Actions:     make([]EventAction, 0, len(d.Actions)),
		Degraded:    append(make([]string, 0, len(d.Degraded)), d.Degraded...),
		TookUS:      d.TookUS,
		Schema:      Schema,
		Profile:     recordedProfile(d),
		Learning:    make([]EventLearning, len(d.Learning)),
	}
	if recordsRequest(d) {
		ev.Now = Millis(d.Now)
		ev.Request = AppendRequest(nil, d.Request)
	}
	for i, u := range d.Learning {
		ev.Learning[i] = EventLearning{OfferID: u.OfferID, Cell: u.Cell, Alpha: u.Alpha, Beta: u.Beta, Propensity: u.Propensity}
	}
	for _, a := range d.Actions {
		ea := EventAction{OfferID: a.OfferID, Kind: a.Kind, Score: a.Score, DiscountAmount: engine.Money{Exp: d.CartTotal.Exp}, Cell: a.Cell}
		if a.Discount != nil {
			ea.DiscountAmount = a.Discount.Amount
		}
		ev.Actions = append(ev.Actions, ea)
	}
	return ev
}

// recordsRequest says whether d's event records its request and time: a
// decision that is not a dry run, made from a request.
func recordsRequest(d *engine.Decision) bool { return d.Request != nil && !d.Request.DryRun }

// recordedProfile is the event's profile of d, as a map for
// encoding/json.
func recordedProfile(d *engine.Decision) map[string]any {
	m := map[string]any{"known": d.Profile != nil && d.Profile.Known}
	if d.Profile == nil {
		return m
	}
	for k, f := range d.Recorded {
		v := d.RecordedValue(k)
		switch x := v.(type) {
		case time.Time:
			v = x.UTC()
		case []string:
			if x == nil {
				v = []string{}
			}
		case []float64:
			if x == nil {
				v = []float64{}
			}
		}
		m[f.Name] = v
	}
	return m
}

// appendProfile appends the event's profile of d: the same bytes as
// encoding/json writes recordedProfile(d) (keys sorted, "known" among
// them).
func appendProfile(b []byte, d *engine.Decision) []byte {
	known := d.Profile != nil && d.Profile.Known
	b = append(b, '{')
	wroteKnown, first := false, true
	if d.Profile != nil {
		for k, f := range d.Recorded {
			if !wroteKnown && f.Name > "known" {
				b = appendKnown(b, known, first)
				wroteKnown, first = true, false
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, f.Name)
			b = append(b, ':')
			switch v := d.RecordedValue(k).(type) {
			case time.Time: // in UTC, as every time of an event
				b = append(appendRFC3339(append(b, '"'), v, false), '"')
			default:
				b = appendAny(b, v)
			}
		}
	}
	if !wroteKnown {
		b = appendKnown(b, known, first)
	}
	return append(b, '}')
}

func appendKnown(b []byte, known, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"known":`...)
	return strconv.AppendBool(b, known)
}

// DecisionMessage returns the message of a decision's event whose JSON
// (AppendDecisionEvent's) is data: id the decision id, subject
// decision.<placement>. data is kept, not copied.
func DecisionMessage(decisionID, placement string, data []byte) *Message {
	return &Message{ID: decisionID, Kind: KindDecision, Key: placement, JSON: data}
}

// Message returns the event as it is published.
func (e *DecisionEvent) Message() (*Message, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("decision event %s: %w", e.ID, err)
	}
	return DecisionMessage(e.ID, e.Placement, b), nil
}

// ParseDecisionEvent reads a decision event. Amounts are read exactly, in
// minor units with as many minor digits as are written (Arbiter writes
// exactly the currency's); fields it does not know are ignored.
func ParseDecisionEvent(data []byte) (*DecisionEvent, error) {
	var e DecisionEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decision event: %w", err)
	}
	return &e, nil
}

// UnmarshalJSON reads the event's JSON form, amounts exactly.
func (e *DecisionEvent) UnmarshalJSON(data []byte) error {
	type fields DecisionEvent // the same fields and tags, without this method
	var v struct {
		*fields
		CartTotal *json.Number `json:"cart_total"` // read here, not as fields.CartTotal
	}
	v.fields = (*fields)(e)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	m, err := amountOf(v.CartTotal)
	if err != nil {
		return fmt.Errorf("cart_total: %w", err)
	}
	e.CartTotal = m
	return nil
}

// UnmarshalJSON reads the action's JSON form, its amount exactly.
func (a *EventAction) UnmarshalJSON(data []byte) error {
	type fields EventAction
	var v struct {
		*fields
		DiscountAmount *json.Number `json:"discount_amount"`
	}
	v.fields = (*fields)(a)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	m, err := amountOf(v.DiscountAmount)
	if err != nil {
		return fmt.Errorf("discount_amount: %w", err)
	}
	a.DiscountAmount = m
	return nil
}

// maxExp bounds the minor digits of an amount read from an event: no
// currency has more than 4 (CLF, UYW).
const maxExp = 4

// amountOf reads an amount written as engine.Money writes it: a decimal
// number whose digits after the point are the currency's minor digits.
// nil (not sent) is zero.
func amountOf(n *json.Number) (engine.Money, error) {
	if n == nil {
		return engine.Money{}, nil
	}
	txt := n.String()
	mant, _, _ := strings.Cut(strings.ToLower(txt), "e")
	exp := 0
	if _, frac, ok := strings.Cut(mant, "."); ok {
		exp = len(frac)
	}
	if exp > maxExp {
		return engine.Money{}, fmt.Errorf("%s has more than %d decimals", txt, maxExp)
	}
	v, exact, ok := parseDecimal([]byte(txt), int8(exp))
	switch {
	case !ok:
		return engine.Money{}, fmt.Errorf("%s is beyond %d minor units", txt, maxMinor)
	case !exact:
		return engine.Money{}, fmt.Errorf("%s is not a whole number of minor units", txt)
	}
	return engine.Money{Minor: v, Exp: int8(exp)}, nil
}

// AppendDecisionEvent appends the JSON of d's event: the same bytes as
// json.Marshal(NewDecisionEvent(d)) (a test checks), without building the
// event first. It is the encoder of the hot path; the fields of a new
// schema go here and in DecisionEvent together (the test fails until
// both agree).
func AppendDecisionEvent(b []byte, d *engine.Decision) []byte {
	b, _ = appendDecisionEvent(b, d)
	return b
}

// NewDecisionMessage returns the message of d's event, its JSON written by
// AppendDecisionEvent into buf (grown as needed) and copied into bytes of
// its own, with RequestAt set so that the publisher can make it fit the
// stream (Message.Fit). It returns buf, for reuse.
func NewDecisionMessage(buf []byte, d *engine.Decision) (*Message, []byte) {
	start := len(buf)
	buf, at := appendDecisionEvent(buf, d)
	m := DecisionMessage(d.DecisionID, d.Placement, append([]byte(nil), buf[start:]...))
	if at > 0 {
		m.RequestAt = at - start
	}
	m.Exposure = string(AppendExposure(nil, d))
	return m, buf
}

// ExposureHeader is the NATS header of a decision event that repeats, as
// a JSON object of their own, the three fields a live count of exposures
// needs: customer_id, experiments and holdout, with the body's values
// (AppendExposure). A consumer that reads headers only (JetStream's
// headers_only) counts a decision without its body: Arbiter's own
// experiment counters do on the embedded server. Events published before
// the header existed, or by other publishers, do not carry it: such a
// consumer reads their body.
const ExposureHeader = "Arbiter-Exposure"

// AppendExposure appends the value of d's ExposureHeader:
// {"customer_id":…,"experiments":[…],"holdout":…}, the same values as the
// event's body (AppendDecisionEvent) in the same encoding, on one line
// (JSON escapes line breaks), so that what parses the body's fields parses
// it.
func AppendExposure(b []byte, d *engine.Decision) []byte {
	b = append(b, `{"customer_id":`...)
	b = appendString(b, d.CustomerID)
	b = append(b, `,"experiments":`...)
	b = appendAssignments(b, d.Experiments)
	b = append(b, `,"holdout":`...)
	b = strconv.AppendBool(b, d.Holdout)
	return append(b, '}')
}

// appendDecisionEvent is AppendDecisionEvent; at is the offset in b of the
// request (`,"request":`), 0 when the event records none.
func appendDecisionEvent(b []byte, d *engine.Decision) (_ []byte, at int) {
	b = append(b, `{"type":"decision","id":`...)
	b = appendString(b, d.DecisionID)
	b = append(b, `,"ts":"`...)
	b = appendRFC3339(b, d.Now, false)
	b = append(b, `","customer_id":`...)
	b = appendString(b, d.CustomerID)
	b = append(b, `,"placement":`...)
	b = appendString(b, d.Placement)
	b = append(b, `,"channel":`...)
	b = appendString(b, d.Channel)
	b = append(b, `,"ruleset":`...)
	b = appendString(b, d.Ruleset)
	b = append(b, `,"segments":`...)
	b = appendStrings(b, d.Segments)
	b = append(b, `,"experiments":`...)
	b = appendAssignments(b, d.Experiments)
	b = append(b, `,"holdout":`...)
	b = strconv.AppendBool(b, d.Holdout)
	b = append(b, `,"cart_total":`...)
	b = d.CartTotal.AppendText(b)
	b = append(b, `,"currency":`...)
	b = appendString(b, d.Currency)
	b = append(b, `,"actions":[`...)
	for i := range d.Actions {
		a := &d.Actions[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"offer_id":`...)
		b = appendString(b, a.OfferID)
		b = append(b, `,"kind":`...)
		b = appendString(b, a.Kind)
		b = append(b, `,"discount_amount":`...)
		amount := engine.Money{Exp: d.CartTotal.Exp}
		if a.Discount != nil {
			amount = a.Discount.Amount
		}
		b = amount.AppendText(b)
		b = append(b, `,"score":`...)
		b = appendFloat(b, a.Score)
		b = appendOptString(b, `,"cell":`, a.Cell)
		b = append(b, '}')
	}
	b = append(b, `],"degraded":`...)
	b = appendStrings(b, d.Degraded)
	b = append(b, `,"took_us":`...)
	b = strconv.AppendInt(b, d.TookUS, 10)
	b = append(b, `,"schema":2,"profile":`...)
	b = appendProfile(b, d)
	b = append(b, `,"learning":[`...)
	for i := range d.Learning {
		u := &d.Learning[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"offer_id":`...)
		b = appendString(b, u.OfferID)
		b = append(b, `,"cell":`...)
		b = appendString(b, u.Cell)
		b = append(b, `,"alpha":`...)
		b = appendFloat(b, u.Alpha)
		b = append(b, `,"beta":`...)
		b = appendFloat(b, u.Beta)
		b = append(b, `,"propensity":`...)
		b = appendFloat(b, u.Propensity)
		b = append(b, '}')
	}
	b = append(b, ']')
	if recordsRequest(d) {
		b = append(b, `,"now":`...)
		b = appendMillis(b, d.Now)
		at = len(b)
		b = append(b, `,"request":`...)
		b = AppendRequest(b, d.Request)
	}
	return append(b, '}'), at
}
