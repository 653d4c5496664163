package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/exprenv"
)

// Bounds of the wire format. Every one of them is named in the error a
// caller gets for crossing it.
const (
	// MaxIDLength bounds customer_id, decision_id and offer_id, in bytes.
	MaxIDLength = 128
	// MaxTokenLength bounds placement and channel, in bytes.
	MaxTokenLength = 64
	// MaxQuantity bounds an item's quantity.
	MaxQuantity = 1_000_000
	// MaxOutcomes bounds a batch of outcomes.
	MaxOutcomes = 1000
	// maxMinor bounds an amount in minor units (and a cart total): 2^53,
	// so that every amount is also exact as a float64.
	maxMinor = 1 << 53
	// defaultMaxActions is the spec's default max_actions, the bound of
	// "limit" when the caller passes no positive maxActions.
	defaultMaxActions = 3
)

// Outcome is one outcome as sent to POST /v1/outcomes, validated.
type Outcome struct {
	DecisionID string
	CustomerID string // may be empty: an anonymous customer's decision
	// OfferID is "" for an outcome of the whole decision (an order placed:
	// it applies to every offer the decision granted).
	OfferID string
	Type    string // impression, accepted, dismissed, converted or cancelled
	// Value is exact, in minor units of Currency (as written: never more
	// decimals than the currency has, at most 2^53 minor units); zero when
	// not sent, with 2 minor digits when there is no currency either.
	Value    engine.Money
	Currency string // "" when not sent; always sent with a value
	// OccurredAt is when it happened (occurred_at); zero when not sent (its
	// arrival then).
	OccurredAt time.Time
	// ID is the caller's own id of the outcome ("" when not sent): a
	// retried post with the same id counts once.
	ID string
}

// DecodeDecide decodes and validates a POST /v1/decide body. maxActions is
// the ruleset's max_actions (the bound of "limit"; 3 when not positive). A
// dry run's "now" is in Request.Now; otherwise Now is zero and the caller
// sets it. Errors are *Error.
//
// The format is strict: an unknown field anywhere (at the top level, in
// cart, in an item) is invalid_request naming it, so that a typo such as
// "dryrun" is caught rather than silently ignored. The exceptions:
// cart.total is accepted and ignored (the total is always computed from
// the items), and a null value is the same as a field not sent (in
// context, the key is dropped).
func DecodeDecide(body []byte, maxActions int) (*engine.Request, error) {
	req, werr := decodeDecide(body, maxActions, false, nil)
	if werr != nil {
		return nil, werr
	}
	return req, nil
}

// DecodeDecideDryRun is DecodeDecide for the offline tools (arbiter decide,
// rule tests): the request is a dry run whatever its "dry_run" says, so a
// "now" is accepted without "dry_run": true.
func DecodeDecideDryRun(body []byte, maxActions int) (*engine.Request, error) {
	req, werr := decodeDecide(body, maxActions, true, nil)
	if werr != nil {
		return nil, werr
	}
	return req, nil
}

// DecodeOutcomes decodes and validates a POST /v1/outcomes body: one
// outcome object, or {"outcomes": [...]} with 1 to MaxOutcomes of them.
// Errors are *Error; a field in a batch is named with its index
// (outcomes[3].type).
func DecodeOutcomes(body []byte) ([]Outcome, error) {
	outs, werr := decodeOutcomes(body)
	if werr != nil {
		return nil, werr
	}
	return outs, nil
}

// ---------------------------------------------------------------- decide

// The top-level fields of a decide request, as bits for duplicate checks.
const (
	fCustomerID = 1 << iota
	fPlacement
	fChannel
	fCart
	fContext
	fLimit
	fExplain
	fDryRun
	fNow
	fProfile
)

var decideFields = []string{"customer_id", "placement", "channel", "cart", "context", "limit", "explain", "dry_run", "now", "profile"}

// decodeDecide decodes a decide request: into mem's request and memory
// when mem is not nil (RequestDecoder), else into a request of its own.
//
// The body is read once: the parser checks the JSON grammar as it goes
// (every string's escapes and UTF-8, every number, the nesting, nothing
// after the object), so a body it accepts is one json.Valid and
// utf8.Valid accept. Only a body it refuses is checked whole, so that
// malformed JSON is reported as such, where it is, even when a field
// before the fault was already wrong (BENCHMARKS.md, issue 19, eighth
// pass: validating first was a third of decoding).
func decodeDecide(body []byte, maxActions int, forceDry bool, mem *RequestDecoder) (*engine.Request, *Error) {
	req, werr := decodeDecideOnce(body, maxActions, forceDry, mem)
	if werr != nil && !wellFormed(body) {
		return nil, syntaxError(body)
	}
	return req, werr
}

// wellFormed reports whether body is JSON in UTF-8.
func wellFormed(body []byte) bool { return json.Valid(body) && utf8.Valid(body) }

// decodeDecideOnce is decodeDecide's single pass: its errors are the
// first fault it meets, of any kind.
func decodeDecideOnce(body []byte, maxActions int, forceDry bool, mem *RequestDecoder) (*engine.Request, *Error) {
	if maxActions < 1 {
		maxActions = defaultMaxActions
	}
	p := parser{b: body}
	p.ws()
	if p.peek() != '{' {
		return nil, badReq("", "the body must be a JSON object, e.g. {\"customer_id\": \"c-1042\", \"placement\": \"checkout\"}; got "+p.kindName())
	}
	var req *engine.Request
	if mem != nil {
		p.mem = mem.begin(len(body))
		req = &mem.req
		*req = engine.Request{Placement: "default"}
	} else {
		req = &engine.Request{Placement: "default"}
	}
	var seen int
	var nowRaw []byte
	nowSet, dryRun := false, false
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		bit := 0
		switch string(key) {
		case "customer_id":
			bit = fCustomerID
			if !p.null() {
				s, werr := p.stringField("customer_id", "\"c-1042\"", false)
				if werr != nil {
					return nil, werr
				}
				if werr := checkID("customer_id", s, "omit customer_id for an anonymous customer"); werr != nil {
					return nil, werr
				}
				req.CustomerID = s
			}
		case "placement":
			bit = fPlacement
			if !p.null() {
				s, werr := p.stringField("placement", "\"checkout\"", true)
				if werr != nil {
					return nil, werr
				}
				if werr := checkToken("placement", s); werr != nil {
					return nil, werr
				}
				req.Placement = s
			}
		case "channel":
			bit = fChannel
			if !p.null() {
				s, werr := p.stringField("channel", "\"web\"", true)
				if werr != nil {
					return nil, werr
				}
				if werr := checkToken("channel", s); werr != nil {
					return nil, werr
				}
				req.Channel = s
			}
		case "cart":
			bit = fCart
			if !p.null() {
				if werr := p.cart(&req.Cart); werr != nil {
					return nil, werr
				}
			}
		case "context":
			bit = fContext
			if !p.null() {
				m, werr := p.context()
				if werr != nil {
					return nil, werr
				}
				req.Context = m
			}
		case "limit":
			bit = fLimit
			if !p.null() {
				if p.peek() != '-' && (p.peek() < '0' || p.peek() > '9') {
					return nil, badReq("limit", "must be a whole number from 1 to "+strconv.Itoa(maxActions)+" (the ruleset's max_actions); got "+p.kindName())
				}
				n, exact, ok := parseDecimal(p.number(), 0)
				if !ok || !exact || n < 1 || n > int64(maxActions) {
					return nil, badReq("limit", "must be a whole number from 1 to "+strconv.Itoa(maxActions)+" (the ruleset's max_actions)")
				}
				req.Limit = int(n)
			}
		case "explain":
			bit = fExplain
			if !p.null() {
				b, werr := p.boolField("explain")
				if werr != nil {
					return nil, werr
				}
				req.Explain = b
			}
		case "dry_run":
			bit = fDryRun
			if !p.null() {
				b, werr := p.boolField("dry_run")
				if werr != nil {
					return nil, werr
				}
				dryRun = b
			}
		case "now":
			bit = fNow
			if !p.null() {
				if p.peek() != '"' {
					return nil, badReq("now", "must be an RFC 3339 time as a string, e.g. \"2026-11-28T12:00:00+08:00\"; got "+p.kindName())
				}
				nowRaw = p.rawString()
				nowSet = true
			}
		case "profile":
			bit = fProfile
			if !p.null() {
				if p.peek() != '{' {
					return nil, badReq("profile", "must be an object, the JSON form of a profile, e.g. {\"id\": \"c-1042\", \"orders\": 3}; got "+p.kindName())
				}
				start := p.i
				p.skip()
				if p.err == nil {
					req.InlineProfile = bytes.Clone(p.b[start:p.i])
				}
			}
		default:
			return nil, unknownField("", key, decideFields)
		}
		if seen&bit != 0 {
			return nil, badReq(string(key), "is given twice; send each field once")
		}
		seen |= bit
	}
	p.end()
	if p.err != nil {
		return nil, p.err
	}
	if nowSet {
		if !dryRun && !forceDry {
			return nil, badReq("now", "is allowed only on a dry run: add \"dry_run\": true, or remove \"now\" (a real decision is made at the time it arrives)")
		}
		s := unescape(nowRaw)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, badReq("now", "must be an RFC 3339 time with a zone, e.g. \"2026-11-28T12:00:00+08:00\" or \"2026-11-28T04:00:00Z\"; got "+strconv.Quote(s))
		}
		req.Now = t
	}
	if req.InlineProfile != nil && !dryRun && !forceDry {
		return nil, badReq("profile", "is allowed only on a dry run: add \"dry_run\": true, or remove \"profile\" (a real decision reads the stored profile of customer_id)")
	}
	req.DryRun = dryRun || forceDry
	return req, nil
}

var cartFields = []string{"currency", "items", "total"}

func (p *parser) cart(c *engine.Cart) *Error {
	if p.peek() != '{' {
		return badReq("cart", "must be an object, e.g. {\"currency\": \"USD\", \"items\": [{\"sku\": \"A\", \"price\": 9.99, \"quantity\": 1}]}; got "+p.kindName())
	}
	// The currency decides how many decimals a price may have, and it may
	// come after the items: find it first, reading no further than it. A
	// second currency is found below, given twice, unless a fault under
	// the first one (a price with more decimals than it allows) comes
	// before it.
	start, depth := p.i, p.depth
	var curRaw []byte
	curSet := false
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		if string(key) == "currency" {
			if p.peek() != '"' && p.peek() != 'n' {
				return badReq("cart.currency", "must be a string: an ISO 4217 code such as \"USD\"; got "+p.kindName())
			}
			curSet = !p.null()
			if curSet {
				curRaw = p.rawString()
				break
			}
		} else {
			p.skip()
		}
	}
	if p.err != nil {
		return p.err
	}
	if !curSet {
		return badReq("cart.currency", "is required with a cart: an ISO 4217 code such as \"USD\"")
	}
	cur := p.keep(curRaw, true)
	exp, ok := engine.CurrencyExp(cur)
	if !ok {
		return badReq("cart.currency", unknownCurrency(cur))
	}
	c.Currency = cur

	p.i, p.depth = start, depth
	var seen int
	var total int64
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		bit := 0
		switch string(key) {
		case "currency":
			bit = 1
			p.skip() // read above
		case "total":
			bit = 2
			p.skip() // computed from the items; the caller's is ignored
		case "items":
			bit = 4
			if p.null() {
				break
			}
			if p.peek() != '[' {
				return badReq("cart.items", "must be an array of items, e.g. [{\"sku\": \"A\", \"price\": 9.99, \"quantity\": 1}]; got "+p.kindName())
			}
			if n := p.countElems(); n > 0 {
				if p.mem != nil {
					c.Items = slices.Grow(p.mem.items[:0], n)
				} else {
					c.Items = make([]engine.Item, 0, n)
				}
			}
			for i, ok := 0, p.firstElem(); ok; i, ok = i+1, p.nextElem() {
				var it engine.Item
				if werr := p.item(&it, i, exp); werr != nil {
					return werr
				}
				line, ok := mulMinor(it.Price, int64(it.Quantity))
				if ok {
					total, ok = addMinor(total, line)
				}
				if !ok {
					return badReq(itemPath(i, ""), "makes the cart total larger than "+strconv.FormatInt(maxMinor, 10)+" minor units of "+cur)
				}
				c.Items = append(c.Items, it)
			}
			if p.mem != nil && cap(c.Items) > cap(p.mem.items) {
				p.mem.items = c.Items[:0]
			}
		default:
			return unknownField("cart", key, cartFields)
		}
		if seen&bit != 0 {
			return badReq("cart."+string(key), "is given twice; send each field once")
		}
		seen |= bit
	}
	return p.err
}

var itemFields = []string{"sku", "category", "price", "quantity", "tags"}

func itemPath(i int, field string) string {
	s := "cart.items[" + strconv.Itoa(i) + "]"
	if field != "" {
		s += "." + field
	}
	return s
}

func (p *parser) item(it *engine.Item, i int, exp int8) *Error {
	if p.peek() != '{' {
		return badReq(itemPath(i, ""), "must be an object, e.g. {\"sku\": \"A\", \"price\": 9.99, \"quantity\": 1}; got "+p.kindName())
	}
	var seen int
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		bit := 0
		switch string(key) {
		case "sku":
			bit = 1
			if p.peek() != '"' {
				return badReq(itemPath(i, "sku"), "must be a string, e.g. \"SHOE-1\"; got "+p.kindName())
			}
			it.SKU = p.text(false)
			if it.SKU == "" {
				return badReq(itemPath(i, "sku"), "must not be empty: send the product's sku")
			}
		case "category":
			bit = 2
			if !p.null() {
				if p.peek() != '"' {
					return badReq(itemPath(i, "category"), "must be a string, e.g. \"shoes\"; got "+p.kindName())
				}
				it.Category = p.text(true)
			}
		case "price":
			bit = 4
			if !p.isNumber() {
				return badReq(itemPath(i, "price"), "must be a number in major units of the cart's currency, e.g. 60.25; got "+p.kindName())
			}
			txt := p.number()
			if txt[0] == '-' {
				if v, _, ok := parseDecimal(txt[1:], exp); !ok || v != 0 {
					return badReq(itemPath(i, "price"), "must not be negative; got "+string(txt))
				}
			}
			v, exact, ok := parseDecimal(txt, exp)
			if !ok {
				return badReq(itemPath(i, "price"), "is too large: at most "+engine.Money{Minor: maxMinor, Exp: exp}.String()+"; got "+string(txt))
			}
			if !exact {
				return badReq(itemPath(i, "price"), "has more decimals than the cart's currency allows ("+strconv.Itoa(int(exp))+"); got "+string(txt))
			}
			it.Price = v
		case "quantity":
			bit = 8
			if !p.isNumber() {
				return badReq(itemPath(i, "quantity"), "must be a whole number of at least 1, e.g. 2; got "+p.kindName())
			}
			txt := p.number()
			n, exact, ok := parseDecimal(txt, 0)
			if txt[0] == '-' || !exact || n < 1 {
				return badReq(itemPath(i, "quantity"), "must be a whole number of at least 1, e.g. 2; got "+string(txt))
			}
			if !ok || n > MaxQuantity {
				return badReq(itemPath(i, "quantity"), "must be at most "+strconv.Itoa(MaxQuantity)+"; got "+string(txt))
			}
			it.Quantity = int(n)
		case "tags":
			bit = 16
			if p.null() {
				break
			}
			if p.peek() != '[' {
				return badReq(itemPath(i, "tags"), "must be an array of strings, e.g. [\"sale\"]; got "+p.kindName())
			}
			n := p.countElems()
			tags := p.tagList(n)
			for j, ok := 0, p.firstElem(); ok; j, ok = j+1, p.nextElem() {
				if p.peek() != '"' {
					return badReq(itemPath(i, "tags")+"["+strconv.Itoa(j)+"]", "must be a string; got "+p.kindName())
				}
				tags = append(tags, p.text(true))
			}
			if n > 0 {
				it.Tags = tags
			}
		default:
			return unknownField(itemPath(i, ""), key, itemFields)
		}
		if seen&bit != 0 {
			return badReq(itemPath(i, string(key)), "is given twice; send each field once")
		}
		seen |= bit
	}
	if p.err != nil {
		return p.err
	}
	if seen&1 == 0 {
		return badReq(itemPath(i, "sku"), "is required: send the product's sku")
	}
	if seen&4 == 0 {
		return badReq(itemPath(i, "price"), "is required: the unit price in major units of the cart's currency, e.g. 60.25")
	}
	if seen&8 == 0 {
		return badReq(itemPath(i, "quantity"), "is required: the number of units, a whole number of at least 1")
	}
	return nil
}

// context decodes the free-form context: strings, numbers, booleans and
// arrays of them. A null value drops its key.
func (p *parser) context() (map[string]any, *Error) {
	if p.peek() != '{' {
		return nil, badReq("context", "must be an object of strings, numbers, booleans and arrays of them, e.g. {\"country\": \"US\"}; got "+p.kindName())
	}
	var m map[string]any
	if p.mem != nil {
		m = p.mem.contextMap()
	} else {
		m = make(map[string]any, p.countMembers())
	}
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		var k string
		if p.mem != nil {
			k = p.mem.keepText(key, true) // key() has unescaped it
		} else {
			k = string(key)
		}
		if k == "placement" || k == "channel" {
			return nil, badReq("context."+k, "is reserved: ctx."+k+" is the request's "+k+"; send it as the top-level \""+k+"\"")
		}
		if _, dup := m[k]; dup {
			return nil, badReq("context."+k, "is given twice; send each key once")
		}
		switch p.peek() {
		case 'n':
			p.skip()
			continue
		case '[':
			n := p.countElems()
			arr := make([]any, 0, n)
			for j, ok := 0, p.firstElem(); ok; j, ok = j+1, p.nextElem() {
				v, werr := p.scalar(func() string { return "context." + k + "[" + strconv.Itoa(j) + "]" }, true)
				if werr != nil {
					return nil, werr
				}
				arr = append(arr, v)
			}
			m[k] = arr
		default:
			v, werr := p.scalar(func() string { return "context." + k }, false)
			if werr != nil {
				return nil, werr
			}
			m[k] = v
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return m, nil
}

func (p *parser) scalar(path func() string, inArray bool) (any, *Error) {
	switch c := p.peek(); {
	case c == '"':
		if p.mem != nil {
			return p.mem.keepAny(p.rawString()), nil
		}
		return p.str(), nil
	case c == 't' || c == 'f':
		b, _ := p.boolField("")
		return b, nil
	case p.isNumber():
		txt := p.number()
		f, err := strconv.ParseFloat(string(txt), 64)
		if err != nil {
			return nil, badReq(path(), "is a number out of range: "+string(txt))
		}
		return f, nil
	default:
		what := "context values may be strings, numbers, booleans or arrays of them, not objects: flatten it, e.g. \"device_os\": \"ios\" instead of \"device\": {\"os\": \"ios\"}"
		if inArray {
			what = "arrays in context may hold strings, numbers and booleans only (no objects, arrays or nulls)"
		}
		return nil, badReq(path(), what+"; got "+p.kindName())
	}
}

// CheckID is the check of customer_id (checkID, below) for an id that
// reaches a decision another way: a dry run's inline profile.id, which
// becomes the decision's customer id. field is the JSON path the error
// names; emptyHint says what to write when the id is empty.
func CheckID(field, id, emptyHint string) *Error {
	return checkID(field, id, emptyHint)
}

// checkID validates an identifier: not empty, at most MaxIDLength bytes,
// no control characters (C0, DEL, C1), no bidirectional overrides or
// isolates (U+202A–U+202E, U+2066–U+2069: they make a logged id read as
// another), and no lone surrogate (decoded as U+FFFD, which is refused
// too).
func checkID(field, s, emptyHint string) *Error {
	if s == "" {
		return badReq(field, "must not be empty; "+emptyHint)
	}
	if len(s) > MaxIDLength {
		return badReq(field, "is "+strconv.Itoa(len(s))+" bytes long; at most "+strconv.Itoa(MaxIDLength)+" are allowed")
	}
	for i, r := range s {
		at := " (at byte " + strconv.Itoa(i) + ")"
		switch {
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return badReq(field, "must not contain control characters"+at)
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return badReq(field, "must not contain the bidirectional control U+"+strings.ToUpper(strconv.FormatInt(int64(r), 16))+at+": send the id as plain text")
		case r == utf8.RuneError:
			return badReq(field, "must not contain a lone surrogate (\\ud800 to \\udfff without its pair) or U+FFFD"+at+": send valid Unicode")
		}
	}
	return nil
}

// checkToken validates a placement or channel: it becomes part of a NATS
// subject, so only letters, digits, '_' and '-' are allowed.
func checkToken(field, s string) *Error {
	const allowed = "letters A-Z and a-z, digits, '_' and '-'"
	if s == "" {
		return badReq(field, "must not be empty; omit it instead, or use "+allowed)
	}
	if len(s) > MaxTokenLength {
		return badReq(field, "is "+strconv.Itoa(len(s))+" bytes long; at most "+strconv.Itoa(MaxTokenLength)+" are allowed")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return badReq(field, "may hold only "+allowed+" (it names a NATS subject); "+strconv.QuoteRune(r)+" at byte "+strconv.Itoa(i)+" is not allowed")
		}
	}
	return nil
}

// ---------------------------------------------------------------- outcomes

var outcomeFields = []string{"decision_id", "customer_id", "offer_id", "type", "value", "currency", "occurred_at", "id"}

func decodeOutcomes(body []byte) ([]Outcome, *Error) {
	p, werr := newParser(body)
	if werr != nil {
		return nil, werr
	}
	if p.peek() != '{' {
		return nil, badReq("", "the body must be a JSON object: one outcome, or {\"outcomes\": [...]}; got "+p.kindName())
	}
	// A batch is an object with an "outcomes" key.
	start := p.i
	batch := false
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		if string(key) == "outcomes" {
			batch = true
		}
		p.skip()
	}
	if p.err != nil {
		return nil, p.err
	}
	p.i = start
	if !batch {
		var o Outcome
		if werr := p.outcome(&o, ""); werr != nil {
			return nil, werr
		}
		return []Outcome{o}, nil
	}
	var outs []Outcome
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		if string(key) != "outcomes" {
			return nil, unknownField("", key, []string{"outcomes"})
		}
		if outs != nil {
			return nil, badReq("outcomes", "is given twice; send each field once")
		}
		if p.peek() != '[' {
			return nil, badReq("outcomes", "must be an array of 1 to "+strconv.Itoa(MaxOutcomes)+" outcome objects; got "+p.kindName())
		}
		n := p.countElems()
		if n == 0 {
			return nil, badReq("outcomes", "is empty: send 1 to "+strconv.Itoa(MaxOutcomes)+" outcomes")
		}
		if n > MaxOutcomes {
			return nil, badReq("outcomes", "holds "+strconv.Itoa(n)+" outcomes; at most "+strconv.Itoa(MaxOutcomes)+" per request: split the batch")
		}
		outs = make([]Outcome, n)
		for i, ok := 0, p.firstElem(); ok; i, ok = i+1, p.nextElem() {
			if werr := p.outcome(&outs[i], "outcomes["+strconv.Itoa(i)+"]."); werr != nil {
				return nil, werr
			}
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return outs, nil
}

var outcomeTypes = []string{OutcomeImpression, OutcomeAccepted, OutcomeDismissed, OutcomeConverted, OutcomeCancelled}

func (p *parser) outcome(o *Outcome, prefix string) *Error {
	if p.peek() != '{' {
		return badReq(strings.TrimSuffix(prefix, "."), "must be an outcome object, e.g. {\"decision_id\": \"dcs_...\", \"offer_id\": \"vip_10\", \"type\": \"accepted\"}; got "+p.kindName())
	}
	var seen int
	var valueTxt []byte
	for key, ok := p.firstKey(); ok; key, ok = p.nextKey() {
		bit := 0
		switch string(key) {
		case "decision_id", "customer_id", "offer_id", "type", "currency", "occurred_at", "id":
			switch string(key) {
			case "decision_id":
				bit = 1
			case "customer_id":
				bit = 2
			case "offer_id":
				bit = 4
			case "type":
				bit = 8
			case "currency":
				bit = 16
			case "occurred_at":
				bit = 64
			case "id":
				bit = 128
			}
			if p.null() {
				break
			}
			if p.peek() != '"' {
				return badReq(prefix+string(key), "must be a string; got "+p.kindName())
			}
			s := p.str()
			switch bit {
			case 1:
				o.DecisionID = s
			case 2:
				o.CustomerID = s
			case 4:
				o.OfferID = s
			case 8:
				o.Type = s
			case 16:
				o.Currency = s
			case 64:
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return badReq(prefix+"occurred_at", "must be an RFC 3339 time with a zone, like \"2026-11-27T10:02:11Z\"; got "+strconv.Quote(s))
				}
				o.OccurredAt = t.UTC()
			case 128:
				o.ID = s
			}
		case "value":
			bit = 32
			if p.null() {
				break
			}
			if !p.isNumber() {
				return badReq(prefix+"value", "must be a number in major units of the outcome's currency, e.g. 108.45; got "+p.kindName())
			}
			valueTxt = p.number()
		default:
			return unknownField(strings.TrimSuffix(prefix, "."), key, outcomeFields)
		}
		if seen&bit != 0 {
			return badReq(prefix+string(key), "is given twice; send each field once")
		}
		seen |= bit
	}
	if p.err != nil {
		return p.err
	}
	if o.DecisionID == "" {
		return badReq(prefix+"decision_id", "is required: the decision_id of the decision this outcome follows")
	}
	if werr := checkID(prefix+"decision_id", o.DecisionID, "send the decision's decision_id"); werr != nil {
		return werr
	}
	if o.CustomerID != "" {
		if werr := checkID(prefix+"customer_id", o.CustomerID, ""); werr != nil {
			return werr
		}
	}
	if seen&4 != 0 {
		if werr := checkID(prefix+"offer_id", o.OfferID, "send the action's offer_id, or leave it out for an outcome of the whole decision"); werr != nil {
			return werr
		}
	}
	if seen&128 != 0 {
		if werr := checkID(prefix+"id", o.ID, "send your own id of the outcome (an order id), or leave it out"); werr != nil {
			return werr
		}
	}
	switch {
	case ValidOutcome(o.Type):
	case o.Type == "":
		return badReq(prefix+"type", "is required: one of "+strings.Join(outcomeTypes, ", "))
	default:
		return badReq(prefix+"type", "unknown outcome type "+strconv.Quote(o.Type)+": use one of "+strings.Join(outcomeTypes, ", "))
	}
	exp := int8(2)
	if o.Currency != "" {
		e, ok := engine.CurrencyExp(o.Currency)
		if !ok {
			return badReq(prefix+"currency", unknownCurrency(o.Currency))
		}
		exp = e
	}
	o.Value = engine.Money{Exp: exp}
	if valueTxt != nil {
		if o.Currency == "" {
			return badReq(prefix+"currency", "is required with a value: the ISO 4217 code of the value, such as \"USD\"")
		}
		if valueTxt[0] == '-' {
			if v, _, ok := parseDecimal(valueTxt[1:], exp); !ok || v != 0 {
				return badReq(prefix+"value", "must not be negative; got "+string(valueTxt))
			}
		}
		v, exact, ok := parseDecimal(valueTxt, exp)
		if !ok {
			return badReq(prefix+"value", "is too large: at most "+engine.Money{Minor: maxMinor, Exp: exp}.String()+"; got "+string(valueTxt))
		}
		if !exact {
			return badReq(prefix+"value", "has more decimals than "+o.Currency+" allows ("+strconv.Itoa(int(exp))+"); got "+string(valueTxt))
		}
		o.Value.Minor = v
	}
	return nil
}

// ---------------------------------------------------------------- errors

func badReq(field, msg string) *Error {
	return &Error{Code: CodeInvalidRequest, Message: msg, Field: field}
}

func unknownField(parent string, key []byte, known []string) *Error {
	k := string(key) // key() has unescaped it
	path := k
	if parent != "" {
		path = parent + "." + k
	}
	msg := "unknown field " + strconv.Quote(k)
	if s := exprenv.Closest(k, known); s != "" {
		msg += " (did you mean " + strconv.Quote(s) + "?)"
	}
	where := "the request"
	if parent != "" {
		where = parent
	}
	msg += "; the fields of " + where + " are " + strings.Join(known, ", ")
	return badReq(path, msg)
}

// syntaxError describes malformed JSON: where (line, column, byte offset)
// and what.
func syntaxError(body []byte) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &Error{Code: CodeInvalidJSON, Message: "the body is empty: send a JSON object, e.g. {\"placement\": \"checkout\"}"}
	}
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, size := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		line, col := lineCol(body, off)
		return &Error{Code: CodeInvalidJSON, Message: "invalid UTF-8 at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + " (byte " + strconv.Itoa(off) + "): send UTF-8 text"}
	}
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset)
		msg := strings.TrimPrefix(se.Error(), "json: ")
		if off >= len(body) && strings.Contains(msg, "unexpected end") {
			msg = "the JSON ends early (a missing '}', ']' or '\"'?)"
		}
		// The offset is of the byte after the one at fault.
		at := max(off-1, 0)
		line, col := lineCol(body, at)
		return &Error{Code: CodeInvalidJSON, Message: "invalid JSON at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + " (byte " + strconv.Itoa(at) + "): " + msg}
	}
	return &Error{Code: CodeInvalidJSON, Message: "invalid JSON"}
}

func lineCol(b []byte, off int) (line, col int) {
	off = min(off, len(b))
	line = 1 + bytes.Count(b[:off], []byte{'\n'})
	col = off - (bytes.LastIndexByte(b[:off], '\n') + 1) + 1
	return line, col
}

// ---------------------------------------------------------------- parser

// parser walks a JSON body and checks its grammar as it goes: a body it
// reads to the end without an error (end) is one json.Valid and utf8.Valid
// accept (FuzzDecodeDecide holds it to that). The first fault is kept in
// err and ends every loop.
type parser struct {
	b     []byte
	i     int
	depth int // objects and arrays open at the cursor
	err   *Error
	// mem, when set, keeps the strings decoded (RequestDecoder): interned,
	// or in its arena; without it each string is one of its own.
	mem *RequestDecoder
}

// newParser is a parser for a body that must be well-formed before any of
// it is read (outcomes and the other bodies that are not on a decision's
// path: decodeDecide reads its body once).
func newParser(body []byte) (parser, *Error) {
	if !wellFormed(body) {
		return parser{}, syntaxError(body)
	}
	p := parser{b: body}
	p.ws()
	return p, nil
}

// maxDepth is how deeply objects and arrays may nest: encoding/json's
// limit, so that the parser accepts what json.Valid accepts.
const maxDepth = 10000

// open enters an object or an array.
func (p *parser) open() {
	if p.depth++; p.depth > maxDepth {
		p.fail()
	}
}

// end checks that nothing but white space follows the value read last.
func (p *parser) end() {
	if p.err == nil && p.i != len(p.b) {
		p.fail()
	}
}

func (p *parser) fail() {
	if p.err == nil {
		line, col := lineCol(p.b, p.i)
		p.err = &Error{Code: CodeInvalidJSON, Message: "unexpected input at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + " (byte " + strconv.Itoa(p.i) + ")"}
	}
	p.i = len(p.b)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) expect(c byte) bool {
	if p.peek() != c {
		p.fail()
		return false
	}
	p.i++
	p.ws()
	return true
}

func (p *parser) isNumber() bool {
	c := p.peek()
	return c == '-' || c >= '0' && c <= '9'
}

// kindName names the value at the cursor, for "got ..." in errors.
func (p *parser) kindName() string {
	switch c := p.peek(); {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return "nothing"
}

// null consumes a null and reports whether there was one.
func (p *parser) null() bool {
	if p.peek() == 'n' {
		p.skip()
		return true
	}
	return false
}

// firstKey enters an object and returns its first key, with the cursor on
// the value; ok is false for an empty object (then consumed).
func (p *parser) firstKey() (key []byte, ok bool) {
	if !p.expect('{') {
		return nil, false
	}
	p.open()
	if p.peek() == '}' {
		p.i++
		p.depth--
		p.ws()
		return nil, false
	}
	return p.key()
}

// nextKey moves past the previous member's value to the next key; ok is
// false at the end of the object (then consumed).
func (p *parser) nextKey() (key []byte, ok bool) {
	if p.err != nil {
		return nil, false
	}
	p.ws()
	switch p.peek() {
	case ',':
		p.i++
		p.ws()
		return p.key()
	case '}':
		p.i++
		p.depth--
		p.ws()
		return nil, false
	}
	p.fail()
	return nil, false
}

func (p *parser) key() ([]byte, bool) {
	if p.peek() != '"' {
		p.fail()
		return nil, false
	}
	k := p.rawString()
	if bytes.IndexByte(k, '\\') >= 0 {
		k = []byte(unescape(k)) // rare: compare keys by their meaning
	}
	p.ws()
	if !p.expect(':') {
		return nil, false
	}
	return k, p.err == nil
}

func (p *parser) firstElem() bool {
	if !p.expect('[') {
		return false
	}
	p.open()
	if p.peek() == ']' {
		p.i++
		p.depth--
		p.ws()
		return false
	}
	return p.err == nil
}

func (p *parser) nextElem() bool {
	if p.err != nil {
		return false
	}
	p.ws()
	switch p.peek() {
	case ',':
		p.i++
		p.ws()
		return true
	case ']':
		p.i++
		p.depth--
		p.ws()
		return false
	}
	p.fail()
	return false
}

// countElems counts the elements of the array at the cursor without
// moving it.
func (p *parser) countElems() int {
	save, n := p.i, 0
	for ok := p.firstElem(); ok; ok = p.nextElem() {
		n++
		p.skip()
	}
	p.i = save
	return n
}

// countMembers counts the members of the object at the cursor without
// moving it.
func (p *parser) countMembers() int {
	save, n := p.i, 0
	for _, ok := p.firstKey(); ok; _, ok = p.nextKey() {
		n++
		p.skip()
	}
	p.i = save
	return n
}

// rawString returns the contents of the string at the cursor, escapes
// and all (a slice of the body), and moves past it. A control character,
// an escape JSON does not have or invalid UTF-8 is a fault.
func (p *parser) rawString() []byte {
	if p.peek() != '"' {
		p.fail()
		return nil
	}
	b := p.b
	start := p.i + 1
	wide := false // a byte of a multi-byte character was seen
	for j := start; j < len(b); j++ {
		for j < len(b) && plainInString[b[j]] {
			j++
		}
		if j == len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			if wide && !utf8.Valid(b[start:j]) {
				break
			}
			p.i = j + 1
			p.ws()
			return b[start:j]
		case c == '\\':
			if j+1 >= len(b) {
				break
			}
			j++
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				continue
			case 'u':
				if _, ok := hex4(b[j+1:]); ok {
					j += 4
					continue
				}
			}
		case c >= utf8.RuneSelf:
			wide = true
			continue
		}
		// A control character, a bad escape or invalid UTF-8.
		p.i = j
		p.fail()
		return nil
	}
	p.i = len(b)
	p.fail()
	return nil
}

// plainInString is true for the bytes a JSON string holds as they are and
// that need no further check: printable ASCII but '"' and '\\'.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str returns the string at the cursor, unescaped.
func (p *parser) str() string { return unescape(p.rawString()) }

func (p *parser) stringField(field, example string, intern bool) (string, *Error) {
	if p.peek() != '"' {
		return "", badReq(field, "must be a string, e.g. "+example+"; got "+p.kindName())
	}
	return p.text(intern), nil
}

// text returns the string at the cursor, unescaped, and moves past it:
// with a RequestDecoder, interned (when intern is set and the value is
// one the interner holds) or in its arena; else a string of its own.
func (p *parser) text(intern bool) string {
	raw := p.rawString()
	if p.mem == nil {
		return unescape(raw)
	}
	return p.mem.keep(raw, intern)
}

// keep is text for a string already read (its raw contents).
func (p *parser) keep(raw []byte, intern bool) string {
	if p.mem == nil {
		return unescape(raw)
	}
	return p.mem.keep(raw, intern)
}

// tagList returns an empty list with room for n tags: of the
// RequestDecoder's memory when there is one.
func (p *parser) tagList(n int) []string {
	if n == 0 {
		return nil
	}
	if p.mem == nil {
		return make([]string, 0, n)
	}
	return p.mem.tagList(n)
}

func (p *parser) boolField(field string) (bool, *Error) {
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		p.ws()
		return true, nil
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		p.ws()
		return false, nil
	}
	return false, badReq(field, "must be true or false; got "+p.kindName())
}

// number returns the text of the number at the cursor and moves past it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, else a fault (and "0").
func (p *parser) number() []byte {
	b, start := p.b, p.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		p.i = i
		p.fail()
		return []byte("0")
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			p.i = i + 1
			p.fail()
			return []byte("0")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := digits(b, i); j > i {
			i = j
		} else {
			p.i = i
			p.fail()
			return []byte("0")
		}
	}
	p.i = i
	t := b[start:i]
	p.ws()
	return t
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skip moves past the value at the cursor.
func (p *parser) skip() {
	switch p.peek() {
	case '"':
		p.rawString()
	case '{':
		for _, ok := p.firstKey(); ok; _, ok = p.nextKey() {
			p.skip()
		}
	case '[':
		for ok := p.firstElem(); ok; ok = p.nextElem() {
			p.skip()
		}
	case 't':
		p.lit("true")
	case 'f':
		p.lit("false")
	case 'n':
		p.lit("null")
	default:
		p.number()
	}
}

func (p *parser) lit(s string) {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.fail()
		return
	}
	p.i += len(s)
	p.ws()
}

// unescape decodes the contents of a JSON string (valid JSON assumed; a
// broken escape or a lone surrogate becomes U+FFFD, as in encoding/json).
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	return string(appendUnescaped(make([]byte, 0, len(raw)), raw))
}

// appendUnescaped appends the decoded contents of a JSON string to out
// (unescape).
func appendUnescaped(out, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				out = append(out, "\uFFFD"...)
				continue
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 {
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if r2, ok := hex4(raw[i+3:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
						i += 6
						out = utf8.AppendRune(out, r)
						continue
					}
				}
				r = utf8.RuneError
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return out
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// ---------------------------------------------------------------- numbers

// parseDecimal reads a JSON number's text exactly, as an amount in minor
// units of a currency with exp minor digits. exact is false when the
// number has more significant decimals than exp (60.255 USD); ok is false
// when it is beyond 2^53 minor units. A negative number's value is
// negative. No float is involved, so 1.005 is 1.005.
func parseDecimal(t []byte, exp int8) (v int64, exact, ok bool) {
	v, exact, ok, _ = decimal(t, exp)
	return v, exact, ok
}

// roundDecimal is parseDecimal rounding once, half away from zero, to the
// minor unit (1.005 USD is 101 cents, -1.005 is -101), as engine.ToMinor
// does but without a float; ok is false beyond ±2^53 minor units.
func roundDecimal(t []byte, exp int8) (int64, bool) {
	v, _, ok, up := decimal(t, exp)
	if !ok {
		return 0, false
	}
	if up {
		if len(t) > 0 && t[0] == '-' {
			v--
		} else {
			v++
		}
	}
	if v > maxMinor || v < -maxMinor {
		return 0, false
	}
	return v, true
}

// decimal is parseDecimal that also reports whether the first decimal it
// drops (the one after the minor unit) is 5 or more.
func decimal(t []byte, exp int8) (v int64, exact, ok, up bool) {
	neg := false
	if len(t) > 0 && t[0] == '-' {
		neg, t = true, t[1:]
	}
	// t = int [. frac] [e exp10]
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	intPart := t[:i]
	var frac []byte
	if i < len(t) && t[i] == '.' {
		j := i + 1
		for j < len(t) && t[j] >= '0' && t[j] <= '9' {
			j++
		}
		frac, i = t[i+1:j], j
	}
	e10 := 0
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		eneg := false
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			eneg = t[i] == '-'
			i++
		}
		for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
			if e10 < 100000 {
				e10 = e10*10 + int(t[i]-'0')
			}
		}
		if eneg {
			e10 = -e10
		}
	}
	if len(intPart) == 0 || i != len(t) {
		return 0, false, false, false
	}
	n := len(intPart) + len(frac)
	digit := func(k int) int64 {
		if k < len(intPart) {
			return int64(intPart[k] - '0')
		}
		return int64(frac[k-len(intPart)] - '0')
	}
	first, last := -1, -1
	for k := 0; k < n; k++ {
		if digit(k) != 0 {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	if first < 0 {
		return 0, true, true, false
	}
	// Digit k has the place value 10^(point-1-k) in major units, so
	// 10^(point-1-k+exp) in minor units.
	point := len(intPart) + e10
	place := func(k int) int { return point - 1 - k + int(exp) }
	exact = place(last) >= 0
	if place(first) > 15 {
		return 0, exact, false, false
	}
	// The digits down to the minor unit; beyond it, the excess decimals
	// (reported through exact) are dropped.
	end := min(last, point-1+int(exp))
	for k := first; k <= end; k++ {
		v = v*10 + digit(k)
	}
	for s := place(end); s > 0; s-- {
		v *= 10
	}
	if v > maxMinor {
		return 0, exact, false, false
	}
	if k := end + 1; k >= 0 && k < n {
		up = digit(k) >= 5
	}
	if neg {
		v = -v
	}
	return v, exact, true, up
}

func mulMinor(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > maxMinor/b {
		return 0, false
	}
	return a * b, true
}

func addMinor(a, b int64) (int64, bool) {
	s := a + b
	return s, s <= maxMinor
}
