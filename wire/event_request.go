package wire

import (
	"errors"
	"strconv"
	"time"

	"github.com/arbiterhq/arbiter/engine"
)

// MilliTime is a time as decision events write "now": RFC 3339 in UTC with
// exactly three decimals of a second ("2026-11-22T10:00:00.123Z"). It
// reads any RFC 3339 time.
type MilliTime struct{ time.Time }

// milliLayout is RFC 3339 with milliseconds.
const milliLayout = "2006-01-02T15:04:05.000Z07:00"

// Millis returns t in UTC, truncated to the millisecond, as a MilliTime.
func Millis(t time.Time) MilliTime { return MilliTime{t.UTC().Truncate(time.Millisecond)} }

// MarshalJSON writes the time in RFC 3339 with milliseconds, in UTC.
func (t MilliTime) MarshalJSON() ([]byte, error) {
	return appendMillis(make([]byte, 0, len(milliLayout)+2), t.Time), nil
}

// UnmarshalJSON reads an RFC 3339 time.
func (t *MilliTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New(`must be an RFC 3339 time as a string, e.g. "2026-11-22T10:00:00.123Z"`)
	}
	v, err := time.Parse(time.RFC3339, string(b[1:len(b)-1]))
	if err != nil {
		return errors.New("must be an RFC 3339 time, e.g. \"2026-11-22T10:00:00.123Z\"; got " + string(b))
	}
	t.Time = v
	return nil
}

func appendMillis(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = appendRFC3339(b, t, true)
	return append(b, '"')
}

// AppendRequest appends req in the form of a POST /v1/decide body, the
// form decision events record it in ("request"): customer_id (left out
// when anonymous), placement, channel (left out when empty), cart
// (currency and items, prices in major units with the currency's
// decimals; left out without a cart), context (left out when the request
// had none), limit (left out when 0) and explain (only when true). The
// decision id, the time ("now" beside it in the event), the dry-run flag,
// the ledger reference and the Idempotency-Key are not part of it.
// DecodeDecide reads it back into the same request.
func AppendRequest(b []byte, req *engine.Request) []byte {
	b = append(b, '{')
	if req.CustomerID != "" {
		b = append(b, `"customer_id":`...)
		b = appendString(b, req.CustomerID)
		b = append(b, ',')
	}
	b = append(b, `"placement":`...)
	b = appendString(b, req.Placement)
	b = appendOptString(b, `,"channel":`, req.Channel)
	if req.Cart.Currency != "" {
		b = append(b, `,"cart":{"currency":`...)
		b = appendString(b, req.Cart.Currency)
		exp, _ := engine.CurrencyExp(req.Cart.Currency)
		if len(req.Cart.Items) > 0 {
			b = append(b, `,"items":[`...)
			for i := range req.Cart.Items {
				it := &req.Cart.Items[i]
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"sku":`...)
				b = appendString(b, it.SKU)
				b = appendOptString(b, `,"category":`, it.Category)
				b = append(b, `,"price":`...)
				b = engine.Money{Minor: it.Price, Exp: exp}.AppendText(b)
				b = append(b, `,"quantity":`...)
				b = strconv.AppendInt(b, int64(it.Quantity), 10)
				if len(it.Tags) > 0 {
					b = append(b, `,"tags":`...)
					b = appendStrings(b, it.Tags)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if req.Context != nil {
		b = append(b, `,"context":`...)
		b = appendMap(b, req.Context)
	}
	if req.Limit != 0 {
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, int64(req.Limit), 10)
	}
	if req.Explain {
		b = append(b, `,"explain":true`...)
	}
	return append(b, '}')
}

// requestTruncated is what replaces a decision event's request when the
// event would not fit in a message of the stream.
const requestTruncated = `,"request_truncated":true}`

// Fit makes the message's JSON at most max bytes when it can, and reports
// whether it is (max <= 0: no limit). A decision event that is larger
// loses its request (RequestAt says where it starts) and says
// "request_truncated": true instead; the rest of the event is kept. Any
// other message is left as it is. Fit changes m.JSON in place.
func (m *Message) Fit(max int) bool {
	if max <= 0 || len(m.JSON) <= max {
		return true
	}
	if m.RequestAt <= 0 || m.RequestAt >= len(m.JSON) {
		return false
	}
	m.JSON = append(m.JSON[:m.RequestAt], requestTruncated...)
	m.RequestAt = 0
	return len(m.JSON) <= max
}
