package wire

// Error codes of outcomes that are refused (POST /v1/outcomes, 422; in a
// batch, per outcome in "refused"), of Idempotency-Keys and of the ledger's
// reads.
const (
	CodeUnknownDecision  = "unknown_decision"         // 422: not a decision the fleet made (or a dry run's)
	CodeCustomerMismatch = "customer_mismatch"        // 422: the decision was made for another customer
	CodeDecisionExpired  = "decision_expired"         // 422: older than the attribution window
	CodeUnknownOffer     = "unknown_offer"            // 422: no record that the decision granted that offer (not granted, or the record lost)
	CodeOccurredBefore   = "occurred_before_decision" // 422: occurred_at is before the decision
	CodeConflict         = "conflict"                 // 409: an Idempotency-Key used with another body, or still in flight
	CodeLedgerUnavail    = "ledger_unavailable"       // 503: the ledger did not answer a read
)

// IsOutcomeBatch reports whether a POST /v1/outcomes body that
// DecodeOutcomes accepted is a batch ({"outcomes": [...]}), whose fields
// are named with their index (outcomes[3].offer_id).
func IsOutcomeBatch(body []byte) bool {
	p, werr := newParser(body)
	if werr != nil || p.peek() != '{' {
		return false
	}
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		if string(key) == "outcomes" {
			return true
		}
		p.skip()
	}
	return false
}
