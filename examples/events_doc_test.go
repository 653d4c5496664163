package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/decisionid"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/examples/profilegen"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/wire"
)

// docSection is one event's part of docs/events.md: its field table (the
// names in the first column's backquotes, each with its row's meaning)
// and the JSON examples under its heading.
type docSection struct {
	fields   map[string]string // field -> the meaning column of its row
	examples []map[string]any
}

// readEventsDoc reads docs/events.md's sections for the decision, outcome
// and reload events.
func readEventsDoc(t *testing.T) map[string]*docSection {
	t.Helper()
	b, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]string{"### Decision event": "decision", "### Outcome event": "outcome", "### Reload event": "rules_reloaded"}
	out := map[string]*docSection{}
	var cur *docSection
	inTable, tableDone, inJSON := false, false, false
	var js strings.Builder
	backq := regexp.MustCompile("`([a-z_]+)`")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			cur = nil
			if kind, ok := heads[strings.TrimSpace(line)]; ok {
				cur = &docSection{fields: map[string]string{}}
				out[kind] = cur
				inTable, tableDone = false, false
			}
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case line == "```json":
			inJSON = true
			js.Reset()
		case inJSON && line == "```":
			inJSON = false
			var m map[string]any
			if err := json.Unmarshal([]byte(js.String()), &m); err != nil {
				t.Fatalf("docs/events.md: an example of the %v is not JSON: %v\n%s", cur, err, js.String())
			}
			cur.examples = append(cur.examples, m)
		case inJSON:
			js.WriteString(line + "\n")
		case !tableDone && strings.HasPrefix(line, "| field |"):
			inTable = true
		case inTable && strings.HasPrefix(line, "|---"):
		case inTable && strings.HasPrefix(line, "| "):
			cells := strings.SplitN(line, " | ", 2)
			for _, m := range backq.FindAllStringSubmatch(cells[0], -1) {
				cur.fields[m[1]] = cells[1]
			}
		case inTable:
			inTable, tableDone = false, true
		}
	}
	for _, k := range []string{"decision", "outcome", "rules_reloaded"} {
		if s := out[k]; s == nil || len(s.fields) == 0 || len(s.examples) == 0 {
			t.Fatalf("docs/events.md: no field table or example for the %s event", k)
		}
	}
	return out
}

// jsonKind is the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// sameKinds reports where got and the documented example differ in JSON
// type, for the keys both have (an example's "..." stands for the rest).
func sameKinds(path string, got, doc any, errs *[]string) {
	if doc == "..." {
		return
	}
	if gk, dk := jsonKind(got), jsonKind(doc); gk != dk {
		*errs = append(*errs, fmt.Sprintf("%s is a %s, the documented example has a %s", path, gk, dk))
		return
	}
	switch g := got.(type) {
	case map[string]any:
		d := doc.(map[string]any)
		for k, v := range g {
			if dv, ok := d[k]; ok {
				sameKinds(path+"."+k, v, dv, errs)
			}
		}
	case []any:
		d := doc.([]any)
		if len(g) > 0 && len(d) > 0 {
			sameKinds(path+"[]", g[0], d[0], errs)
		}
	}
}

// eventKeys adds the keys of an event's top level, and of the objects in
// its lists and objects one level down (as "actions[].offer_id",
// "request.cart"), to seen.
func eventKeys(ev map[string]any, seen map[string]bool) {
	for k, v := range ev {
		seen[k] = true
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					for kk := range m {
						seen[k+"[]."+kk] = true
					}
				}
			}
		case map[string]any:
			if k == "profile" { // the schema's fields, by name
				continue
			}
			for kk := range x {
				seen[k+"."+kk] = true
			}
		}
	}
}

// degradedReasons are the values of the engine's Degraded* constants, read
// from its source, so that a reason added there is looked for here.
func degradedReasons(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../engine/api.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if strings.HasPrefix(n.Name, "Degraded") && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						v, _ := strconv.Unquote(lit.Value)
						out = append(out, v)
					}
				}
			}
		}
	}
	if len(out) < 3 {
		t.Fatalf("found %d Degraded constants in engine/api.go", len(out))
	}
	return out
}

// TestEventsAsDocumented: the decision, outcome and reload events the real
// encoders write (decisions of the example shop, as the server publishes
// them) have exactly the fields of docs/events.md's tables, each of the
// JSON type of the documented examples; the keys of the objects in their
// lists are named in their field's row (or in an example); and the
// documented degraded reasons are every reason the engine gives.
func TestEventsAsDocumented(t *testing.T) {
	doc := readEventsDoc(t)
	rs := loadCheckout(t)
	ref := profilegen.DefaultRef()
	people := profilegen.Generate(3, 200, ref)
	r := rand.New(rand.NewPCG(5, 6))
	eng := engine.New(engine.Options{Ledger: memledger.New(), Statistics: fixedStats{}})

	type emitted struct {
		kind string
		json []byte
	}
	var evs []emitted
	for i := 0; i < 400; i++ {
		now := ref.Add(time.Duration(i) * 11 * time.Minute)
		p, err := profiles.FromJSON(&rs.Schema, people[r.IntN(len(people))])
		if err != nil {
			t.Fatal(err)
		}
		req := &engine.Request{CustomerID: p.ID, Placement: "checkout", Now: now, Ref: fmt.Sprintf("%026d", i),
			DecisionID: fmt.Sprintf("dcs_%026d", i)}
		switch i % 4 {
		case 0: // anonymous, no cart
			req.CustomerID, p = "", nil
		case 1:
			req.Channel, req.Context, req.Limit = "app", map[string]any{"device": "mobile"}, 2
			fallthrough
		default:
			req.Cart.Currency = "USD"
			req.Cart.Items = []engine.Item{{SKU: "SHOE-1", Category: "shoes", Price: 6025 + int64(i)*100, Quantity: 2, Tags: []string{"sale"}}}
		}
		d, err := eng.Decide(context.Background(), rs, p, req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := wire.NewDecisionMessage(nil, d)
		evs = append(evs, emitted{"decision", slices.Clone(msg.JSON)})
		if i == 3 { // one too large for the stream: published without its request
			if !msg.Fit(len(msg.JSON) - 1) {
				t.Fatal("a decision event does not fit without its request")
			}
			evs = append(evs, emitted{"decision", msg.JSON})
		}
	}
	// Outcomes as POST /v1/outcomes publishes them: of an offer and of
	// the whole decision, with a value or without, with the caller's id
	// or without.
	at := ref.Add(time.Hour)
	sealer, err := decisionid.NewSigner([]byte("events-doc-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"decision_id": "dcs_1", "customer_id": "c-1", "offer_id": "vip_discount", "type": "converted", "value": 112.50, "currency": "USD", "id": "order-1", "occurred_at": "` + ref.Format(time.RFC3339) + `"}`,
		`{"decision_id": "dcs_1", "type": "impression"}`,
	} {
		outs, err := wire.DecodeOutcomes([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		exps := []engine.Assignment{{ID: "discount_depth", Variant: "deep", Layer: "checkout_pricing"}}
		ev := wire.NewOutcomeEvent(&outs[0], "out_01M8XSB0K4B8V3C2X1N0M9K8J7", at, exps, true)
		ev.Seal = sealer.Seal(ev.SealMessage()) // as the API seals what it applied
		m, err := ev.Message()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, emitted{"outcome", m.JSON})
	}
	for _, loadErr := range []error{nil, fmt.Errorf("offers.yaml:3:5: broken")} {
		m, err := wire.NewRulesReloaded("rld_01JDQ90", at, rs, "91bc0d3a", loadErr).Message()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, emitted{"rules_reloaded", m.JSON})
	}

	seen := map[string]map[string]bool{}
	heldOut := 0
	for _, e := range evs {
		var ev map[string]any
		if err := json.Unmarshal(e.json, &ev); err != nil {
			t.Fatalf("%s", e.json)
		}
		if ev["type"] != e.kind {
			t.Fatalf("type %v, want %s", ev["type"], e.kind)
		}
		if seen[e.kind] == nil {
			seen[e.kind] = map[string]bool{}
		}
		eventKeys(ev, seen[e.kind])
		var errs []string
		// "Lists are [] when empty, never null. Times are RFC 3339 in UTC."
		noNulls(e.kind, ev, &errs)
		for _, f := range []string{"ts", "now", "occurred_at"} {
			if ts, ok := ev[f].(string); ok {
				if tm, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || tm.Location() != time.UTC {
					errs = append(errs, fmt.Sprintf("%s.%s is %q, not an RFC 3339 time in UTC", e.kind, f, ts))
				}
			}
		}
		// "holdout: true when the customer is in the holdout (then no
		// actions and no experiments)"
		if ev["holdout"] == true && (len(ev["actions"].([]any)) > 0 || len(ev["experiments"].([]any)) > 0) {
			errs = append(errs, "a held-out customer's decision has actions or experiments")
		}
		if ev["holdout"] == true {
			heldOut++
		}
		for _, x := range doc[e.kind].examples {
			sameKinds(e.kind, ev, x, &errs)
		}
		for _, msg := range slices.Compact(errs) {
			t.Errorf("docs/events.md: %s\n%s", msg, e.json)
		}
	}
	if heldOut == 0 {
		t.Error("no decision of a held-out customer among the events: the holdout's row is not checked")
	}
	for kind, sec := range doc {
		keys := make([]string, 0, len(seen[kind]))
		for k := range seen[kind] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			top, sub, nested := strings.Cut(k, ".")
			top = strings.TrimSuffix(top, "[]")
			row, ok := sec.fields[top]
			switch {
			case !ok:
				t.Errorf("docs/events.md: the %s event has %q, its table does not say", kind, top)
			case nested && !strings.Contains(row, "`"+sub+"`") && !inExamples(sec.examples, top, sub):
				t.Errorf("docs/events.md: the %s event's %s has %q: neither its row nor an example names it", kind, top, sub)
			}
		}
		for f := range sec.fields {
			if !seen[kind][f] {
				t.Errorf("docs/events.md: the %s event's table has %q, no event written has it", kind, f)
			}
		}
	}
	row := doc["decision"].fields["degraded"]
	for _, g := range degradedReasons(t) {
		if !strings.Contains(row, "`"+g+"`") {
			t.Errorf("docs/events.md: a decision event's degraded may hold %q (engine/api.go), its row does not list it: %s", g, row)
		}
	}
}

// noNulls reports every null in v.
func noNulls(path string, v any, errs *[]string) {
	switch x := v.(type) {
	case nil:
		*errs = append(*errs, path+" is null")
	case map[string]any:
		for k, e := range x {
			noNulls(path+"."+k, e, errs)
		}
	case []any:
		for _, e := range x {
			noNulls(path+"[]", e, errs)
		}
	}
}

// inExamples reports whether an example has key sub in field top (in an
// object of its list, or in its object).
func inExamples(examples []map[string]any, top, sub string) bool {
	for _, x := range examples {
		switch v := x[top].(type) {
		case map[string]any:
			if _, ok := v[sub]; ok {
				return true
			}
		case []any:
			for _, e := range v {
				if m, ok := e.(map[string]any); ok {
					if _, ok := m[sub]; ok {
						return true
					}
				}
			}
		}
	}
	return false
}
