package simulate

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/exprenv"
	"github.com/arbiterhq/arbiter/rules"
)

// MaxDelay bounds a truth file's delay, in decisions.
const MaxDelay = 1_000_000_000

// Truth is what the simulation holds true and the rules do not know: each
// offer's reward probability per segment, what a success is worth, and
// how late outcomes arrive.
type Truth struct {
	// Offers are the offers that ever succeed, in the order written.
	Offers []TruthOffer
	// Value is what one success is worth, in major units of the cart's
	// currency: an expression in the rule language, a score's names in
	// scope (discount is the offer's own discount in the decision).
	Value       *exprenv.Expr
	ValueSource string
	// Delay is how many decisions after its trial a success is counted.
	Delay int

	byOffer  map[string]*TruthOffer
	layout   *exprenv.Layout
	segIndex map[string]int // segment id → its index in the ruleset's order
}

// TruthOffer is one offer's true reward probability: the rate of the
// first segment written that the decision matched, else Default.
type TruthOffer struct {
	ID       string
	Default  float64
	Segments []SegmentRate
}

// SegmentRate is an offer's true reward probability in one segment.
type SegmentRate struct {
	Segment string
	P       float64
}

// Error is a problem in an input file of the simulation (a truth,
// traffic or profiles file), where it is.
type Error struct {
	File      string
	Line, Col int
	Msg, Hint string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Errors is every problem found in an input file.
type Errors []*Error

// sort orders es by their position in the file.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// P returns offer's true reward probability in a decision that matched
// segments: the rate of the first segment written for the offer that is
// among them, else its default; 0 for an offer the truth does not list.
func (t *Truth) P(offer string, segments []string) float64 {
	o := t.byOffer[offer]
	if o == nil {
		return 0
	}
	for _, sr := range o.Segments {
		for _, s := range segments {
			if s == sr.Segment {
				return sr.P
			}
		}
	}
	return o.Default
}

type truthParser struct {
	file string
	errs Errors
}

// yamlError is the error of an input file whose YAML does not parse
// (err, yaml.v3's): placed and worded as the rules loader's.
func yamlError(file string, data []byte, err error) Errors {
	p, msg := rules.YAMLSyntaxError(file, data, err)
	return Errors{{File: file, Line: p.Line, Col: p.Col, Msg: "invalid YAML: " + msg, Hint: rules.YAMLSyntaxHint}}
}

func (p *truthParser) errf(n *yaml.Node, hint, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// ParseTruth reads a truth file (its name for messages, and its content)
// against the ruleset it is to judge: every offer id must be one of the
// ruleset's offers and every segment one of its segments; probabilities
// are in [0, 1]; value is compiled against the ruleset's profile schema.
// Every problem is reported with file:line:col (Errors).
func ParseTruth(rs *rules.Ruleset, file string, data []byte) (*Truth, error) {
	p := &truthParser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the truth file is empty", Hint: "write offers:, value: and delay:"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errf(root, "write offers:, value: and delay:", "a truth file is a mapping, got %s", kind(root))
		return nil, p.errs
	}
	t := &Truth{byOffer: map[string]*TruthOffer{}}
	offerIDs := make([]string, len(rs.Offers))
	for i, o := range rs.Offers {
		offerIDs[i] = o.ID
	}
	segIDs := make([]string, len(rs.Segments))
	t.segIndex = map[string]int{}
	for i, s := range rs.Segments {
		segIDs[i] = s.ID
		t.segIndex[s.ID] = i
	}
	var valueNode *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			p.errf(k, "keep one", "key `%s` appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "offers":
			p.offers(t, v, offerIDs, segIDs)
		case "value":
			valueNode = v
		case "delay":
			n, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || n < 0 || n > MaxDelay {
				p.errf(v, "write a whole number of decisions, like 200", "delay must be 0 to %d decisions, got %s", MaxDelay, kind(v))
				continue
			}
			t.Delay = n
		default:
			p.errf(k, exprenv.DidYouMean(k.Value, []string{"offers", "value", "delay"}, ""), "unknown key `%s` (known: offers, value, delay)", k.Value)
		}
	}
	if !seen["offers"] {
		p.errf(root, "write offers: {OFFER: {default: 0.04, SEGMENT: 0.12}}", "the truth has no offers")
	}
	if valueNode == nil {
		p.errf(root, "write value: cart.total * 0.35 - discount", "the truth has no value: what one success is worth")
	} else {
		p.value(t, rs, valueNode, segIDs)
	}
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	return t, nil
}

func (p *truthParser) offers(t *Truth, n *yaml.Node, offerIDs, segIDs []string) {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "write offers: {OFFER: {default: 0.04, SEGMENT: 0.12}}", "offers must be a mapping of offer ids, got %s", kind(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		id := k.Value
		if !contains(offerIDs, id) {
			p.errf(k, exprenv.DidYouMean(id, offerIDs, ""), "`%s` is not an offer of the rules", id)
			continue
		}
		if t.byOffer[id] != nil {
			p.errf(k, "keep one", "offer `%s` is listed twice", id)
			continue
		}
		o := TruthOffer{ID: id}
		if v.Kind != yaml.MappingNode {
			p.errf(v, "write {default: 0.04, SEGMENT: 0.12}", "offer `%s`: write its rates as a mapping, got %s", id, kind(v))
			continue
		}
		first := map[string]*yaml.Node{} // each rate's key, to say where a repeated one was first given
		for j := 0; j+1 < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			if f := first[sk.Value]; f != nil {
				p.errf(sk, "keep one", "offer `%s`: `%s` is given twice, first at %d:%d", id, sk.Value, f.Line, f.Column)
				continue
			}
			first[sk.Value] = sk
			f, err := strconv.ParseFloat(sv.Value, 64)
			if sv.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) || f < 0 || f > 1 {
				p.errf(sv, "a probability, like 0.04", "offer `%s`: %s must be a number from 0 to 1, got %s", id, sk.Value, kind(sv))
				continue
			}
			switch {
			case sk.Value == "default":
				o.Default = f
			case !contains(segIDs, sk.Value):
				p.errf(sk, exprenv.DidYouMean(sk.Value, append([]string{"default"}, segIDs...), ""), "offer `%s`: `%s` is not a segment of the rules", id, sk.Value)
			default:
				o.Segments = append(o.Segments, SegmentRate{Segment: sk.Value, P: f})
			}
		}
		t.Offers = append(t.Offers, o)
		t.byOffer[id] = &t.Offers[len(t.Offers)-1]
	}
	// the map points into the slice: rebuild it once the slice is final
	for i := range t.Offers {
		t.byOffer[t.Offers[i].ID] = &t.Offers[i]
	}
}

// value compiles the value expression as a score of the ruleset's schema.
func (p *truthParser) value(t *Truth, rs *rules.Ruleset, n *yaml.Node, segIDs []string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "write value: cart.total * 0.35 - discount", "value must be an expression, got %s", kind(n))
		return
	}
	fields := make([]exprenv.Field, 0, len(rs.Schema.Fields))
	for _, f := range rs.Schema.Fields {
		fields = append(fields, exprenv.Field{Name: f.Name, Type: exprType(f.Type)})
	}
	c := exprenv.NewCompiler(exprenv.Config{Profile: fields, Segments: segIDs})
	x, errs := c.Compile(n.Value, exprenv.KindScore, "value")
	for _, e := range errs {
		col := n.Column + offsetCols(n, e.Offset)
		p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Col: col, Msg: e.Msg, Hint: e.Hint})
	}
	if x == nil {
		return
	}
	t.Value, t.ValueSource = x, n.Value
	t.layout = c.Finish(segIDs)
}

// offsetCols is the column offset of rune off of a one-line scalar (its
// quote counted).
func offsetCols(n *yaml.Node, off int) int {
	if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
		off++
	}
	if off > utf8.RuneCountInString(n.Value)+1 {
		off = 0
	}
	return off
}

func exprType(t rules.Type) exprenv.Type {
	switch t {
	case rules.TypeString:
		return exprenv.TypeString
	case rules.TypeInt:
		return exprenv.TypeInt
	case rules.TypeNumber:
		return exprenv.TypeNumber
	case rules.TypeBool:
		return exprenv.TypeBool
	case rules.TypeTime:
		return exprenv.TypeTime
	case rules.TypeStringList:
		return exprenv.TypeStringList
	case rules.TypeNumberList:
		return exprenv.TypeNumberList
	}
	return 0
}

func kind(n *yaml.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
