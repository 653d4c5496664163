package wire

import "github.com/arbiterhq/arbiter/engine"

// The kinds of events: the first token of a subject below the prefix.
const (
	KindDecision = "decision" // <prefix>.decision.<placement>
	KindOutcome  = "outcome"  // <prefix>.outcome.<type>
	KindRules    = "rules"    // <prefix>.rules.reloaded
)

// Message is an event in the form it is published in: its JSON, its id
// (the message id that makes a retry a duplicate; "" for none) and its
// subject below the prefix, kept in two parts, Kind and Key (the
// placement, the outcome type, "reloaded"), so that the hot path joins no
// strings. It is what a sink takes and the publisher sends; it shares no
// memory with the request or the decision it comes from. A message from a
// MessagePool is valid until Release: whoever keeps one of its strings
// longer copies it.
type Message struct {
	ID   string
	Kind string
	Key  string
	JSON []byte
	// RequestAt is, in a decision event, the offset in JSON where its
	// request starts (`,"request":`); 0 for any other message. Fit cuts
	// the request there when the event is too large for the stream.
	RequestAt int
	// Exposure is, in a decision event, the value of its ExposureHeader
	// (AppendExposure's JSON); "" for any other message and for a decision
	// message made from JSON alone (DecisionMessage).
	Exposure string

	// pool is the MessagePool the message came from (nil: none), own the
	// memory of its ID and Key when it did: they are valid until Release.
	pool *MessagePool
	own  []byte
}

// Subject returns prefix.<Kind>.<Key>, e.g. arbiter.decision.checkout.
func (m *Message) Subject(prefix string) string { return prefix + "." + m.Kind + "." + m.Key }

// Assignment is a customer's variant in one experiment, as events record
// it: the experiment's layer is written when it has one.
type Assignment struct {
	ID      string `json:"id"`
	Variant string `json:"variant"`
	Layer   string `json:"layer,omitempty"`
}

// assignments copies the engine's assignments; never nil.
func assignments(as []engine.Assignment) []Assignment {
	out := make([]Assignment, len(as))
	for i, a := range as {
		out[i] = Assignment(a)
	}
	return out
}
