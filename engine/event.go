package engine

// Event returns the decision's event, sharing no memory with the request
// or the decision: every list is copied, and empty lists are [] not null.
func (d *Decision) Event() *DecisionEvent {
	ev := &DecisionEvent{
		Type:        "decision",
		ID:          d.DecisionID,
		TS:          d.Now,
		CustomerID:  d.CustomerID,
		Placement:   d.Placement,
		Channel:     d.Channel,
		Ruleset:     d.Ruleset,
		Segments:    append(make([]string, 0, len(d.Segments)), d.Segments...),
		Experiments: append(make([]Assignment, 0, len(d.Experiments)), d.Experiments...),
		Holdout:     d.Holdout,
		CartTotal:   d.CartTotal,
		Currency:    d.Currency,
		Actions:     make([]EventAction, 0, len(d.Actions)),
		Degraded:    append(make([]string, 0, len(d.Degraded)), d.Degraded...),
		TookUS:      d.TookUS,
	}
	for _, a := range d.Actions {
		ea := EventAction{OfferID: a.OfferID, Kind: a.Kind, Score: a.Score, DiscountAmount: d.CartTotal}
		ea.DiscountAmount.Minor = 0
		if a.Discount != nil {
			ea.DiscountAmount = a.Discount.Amount
		}
		ev.Actions = append(ev.Actions, ea)
	}
	return ev
}

// EncodedEvent is an event already in its JSON form, for a sink that
// publishes bytes: JSON holds what encoding/json gives for the event
// (a *DecisionEvent or *OutcomeEvent), whose subject is
// <prefix>.<Type>.<Key> ("decision" and the placement, say): the sink
// joins them, off the request's path.
type EncodedEvent struct {
	ID, Type, Key string
	JSON          []byte
}

// EventID returns the event's id.
func (e *EncodedEvent) EventID() string { return e.ID }

// Subject returns prefix.<Type>.<Key>.
func (e *EncodedEvent) Subject(prefix string) string { return prefix + "." + e.Type + "." + e.Key }
