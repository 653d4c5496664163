package replay

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// Kind is what an Event is.
type Kind uint8

// Kinds of events. Replay reads decisions and outcomes and counts the
// others (rules reloads) as read.
const (
	KindOther Kind = iota
	KindDecision
	KindOutcome
)

// Event is one recorded event, decoded: a decision (schema 2 carries its
// inputs: Request, Now, Profile, Learning) or an outcome. It is what
// Run reads; DecodeEvent fills it from the JSON of a decision or outcome
// event (docs/events.md), the lines `arbiter events export` writes.
type Event struct {
	Kind Kind
	// ID is the decision's id (a decision) or the outcome event's id.
	ID         string
	CustomerID string
	TS         time.Time

	// A decision.
	Schema           int
	Now              time.Time // the decision's time ("now"; TS when absent)
	Request          []byte    // the POST /v1/decide body; nil when absent
	RequestTruncated bool
	Profile          map[string]any // "known" and the fields recorded
	Learning         []wire.EventLearning
	Actions          []Action
	Segments         []string
	Experiments      []wire.Assignment
	Holdout          bool
	// Degraded is what the decision did without ("learning_unavailable":
	// its propensities were the prior mean, not read from statistics).
	Degraded []string
	Currency string
	Ruleset  string
	// Invalid is why a decision's own fields do not read (a time or an
	// amount that is not one); nil when they do. Run skips such a
	// decision and counts it as invalid (Decisions.SkippedInvalid).
	Invalid error

	// An outcome.
	DecisionID string
	OfferID    string // "": the whole decision
	Outcome    string // its type
	Value      engine.Money
	ValueCur   string
	OccurredAt time.Time // zero when not said (TS then)

	prep prepared // the request and profiles, decoded ahead (Pipeline)
}

// Action is a recorded (or replayed) action: the offer and its discount
// in minor units of the cart's currency.
type Action struct {
	OfferID string
	Amount  int64
}

// Decoder decodes events, reusing its parser and the event's lists: the
// fast path of replay's decode stage (no reflection; see the benchmark
// BenchmarkDecode beside encoding/json's). Not safe for concurrent use.
type Decoder struct {
	p fastjson.Parser
}

// errNotObject is returned for a line that is not a JSON object.
var errNotObject = errors.New("not a JSON object")

// Decode fills ev from data, the JSON of one event. ev's lists are reused;
// its strings and Request are copies (data may be reused at once). It
// fails when data is not a JSON object or an outcome's fields do not
// read; a decision whose fields do not read is decoded with ev.Invalid
// saying why.
func (d *Decoder) Decode(data []byte, ev *Event) error {
	v, err := d.p.ParseBytes(data)
	if err != nil {
		return err
	}
	o, err := v.Object()
	if err != nil {
		return errNotObject
	}
	buf := ev.Request[:0]
	*ev = Event{Learning: ev.Learning[:0], Actions: ev.Actions[:0], Segments: ev.Segments[:0], Experiments: ev.Experiments[:0],
		Degraded: ev.Degraded[:0]}
	switch string(o.Get("type").GetStringBytes()) {
	case wire.KindDecision:
		// A decision whose fields do not read is one decision skipped
		// (counted as invalid), not the end of the replay.
		ev.Kind = KindDecision
		ev.Invalid = decodeDecision(o, ev, buf)
		return nil
	case wire.KindOutcome:
		ev.Kind = KindOutcome
		return decodeOutcome(o, ev)
	}
	return nil
}

func str(o *fastjson.Object, key string) string { return string(o.Get(key).GetStringBytes()) }

func timeOf(o *fastjson.Object, key string) (time.Time, error) {
	b := o.Get(key).GetStringBytes()
	if len(b) == 0 {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time", key, b)
	}
	return t, nil
}

func decodeDecision(o *fastjson.Object, ev *Event, buf []byte) error {
	var err error
	ev.ID = str(o, "id")
	ev.CustomerID = str(o, "customer_id")
	ev.Currency = str(o, "currency")
	ev.Ruleset = str(o, "ruleset")
	ev.Schema = o.Get("schema").GetInt()
	ev.Holdout = o.Get("holdout").GetBool()
	ev.RequestTruncated = o.Get("request_truncated").GetBool()
	if ev.TS, err = timeOf(o, "ts"); err != nil {
		return err
	}
	if ev.Now, err = timeOf(o, "now"); err != nil {
		return err
	}
	if ev.Now.IsZero() {
		ev.Now = ev.TS
	}
	if ev.Now.IsZero() {
		return errors.New(`no "now" nor "ts": the decision's time is not recorded`)
	}
	if r := o.Get("request"); r != nil && r.Type() == fastjson.TypeObject {
		ev.Request = r.MarshalTo(buf)
	}
	for _, s := range o.Get("segments").GetArray() {
		ev.Segments = append(ev.Segments, string(s.GetStringBytes()))
	}
	for _, s := range o.Get("degraded").GetArray() {
		ev.Degraded = append(ev.Degraded, string(s.GetStringBytes()))
	}
	for _, x := range o.Get("experiments").GetArray() {
		ev.Experiments = append(ev.Experiments, wire.Assignment{ID: string(x.GetStringBytes("id")),
			Variant: string(x.GetStringBytes("variant")), Layer: string(x.GetStringBytes("layer"))})
	}
	for i, a := range o.Get("actions").GetArray() {
		amt, err := minor(a.Get("discount_amount"))
		if err != nil {
			return fmt.Errorf("actions[%d].discount_amount: %w", i, err)
		}
		ev.Actions = append(ev.Actions, Action{OfferID: string(a.GetStringBytes("offer_id")), Amount: amt.Minor})
	}
	for _, l := range o.Get("learning").GetArray() {
		ev.Learning = append(ev.Learning, wire.EventLearning{OfferID: string(l.GetStringBytes("offer_id")),
			Cell: string(l.GetStringBytes("cell")), Alpha: l.GetFloat64("alpha"), Beta: l.GetFloat64("beta"),
			Propensity: l.GetFloat64("propensity")})
	}
	if p := o.Get("profile"); p != nil && p.Type() == fastjson.TypeObject {
		po, _ := p.Object()
		ev.Profile = make(map[string]any, po.Len())
		po.Visit(func(k []byte, v *fastjson.Value) { ev.Profile[string(k)] = plain(v) })
	}
	return nil
}

// plain is v as encoding/json decodes it into an any.
func plain(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		return v.GetFloat64()
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeArray:
		a := v.GetArray()
		out := make([]any, len(a))
		for i, x := range a {
			out[i] = plain(x)
		}
		return out
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, x *fastjson.Value) { m[string(k)] = plain(x) })
		return m
	}
	return nil
}

func decodeOutcome(o *fastjson.Object, ev *Event) error {
	var err error
	ev.ID = str(o, "id")
	ev.DecisionID = str(o, "decision_id")
	ev.CustomerID = str(o, "customer_id")
	ev.OfferID = str(o, "offer_id")
	ev.Outcome = str(o, "outcome")
	ev.ValueCur = str(o, "currency")
	if ev.TS, err = timeOf(o, "ts"); err != nil {
		return err
	}
	if ev.OccurredAt, err = timeOf(o, "occurred_at"); err != nil {
		return err
	}
	if ev.Value, err = minor(o.Get("value")); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	return nil
}

// minor reads an amount as engine.Money writes it: a decimal number whose
// digits after the point are the currency's minor digits. Missing is 0.
func minor(v *fastjson.Value) (engine.Money, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return engine.Money{}, nil
	}
	var b []byte
	switch v.Type() {
	case fastjson.TypeNumber:
		b = v.MarshalTo(nil)
	case fastjson.TypeString:
		b = v.GetStringBytes()
	default:
		return engine.Money{}, fmt.Errorf("want a number, got %s", v.Type())
	}
	var m engine.Money
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	seen := false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if m.Minor > (1<<62)/10 {
				return engine.Money{}, fmt.Errorf("%s is too large", b)
			}
			m.Minor = m.Minor*10 + int64(c-'0')
			if seen {
				m.Exp++
			}
		case c == '.' && !seen:
			seen = true
		default:
			f, err := strconv.ParseFloat(string(b), 64) // 1e3 and the like: not Arbiter's, read approximately
			if err != nil {
				return engine.Money{}, fmt.Errorf("%s is not a number", b)
			}
			m = engine.Money{Minor: int64(f*100 + 0.5), Exp: 2}
			neg = neg && m.Minor > 0
			if neg {
				m.Minor = -m.Minor
			}
			return m, nil
		}
	}
	if neg {
		m.Minor = -m.Minor
	}
	return m, nil
}
