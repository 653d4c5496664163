package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser/lexer"
	"go.yaml.in/yaml/v3"
)

// exprKeys are the keys whose string values are expressions: their
// canonical form is their token sequence, so spacing and quoting style
// do not change the version.
var exprKeys = map[string]bool{"when": true, "score": true, "items": true, "percent": true, "amount": true}

// canon writes a canonical form of the parsed YAML value n: mappings with
// sorted keys, numbers normalised (10 and 10.0 are one), times as UTC
// instants, expressions as tokens. Comments, layout, key order and quoting
// style leave no trace.
func (l *loader) canon(b *strings.Builder, n *yaml.Node, key string, inPayload bool) {
	n = l.deref(n)
	if n == nil || l.overBudget() {
		b.WriteString("~")
		return
	}
	l.aliases++
	switch n.Kind {
	case yaml.MappingNode:
		es, _ := l.entries(n, "a mapping")
		sort.SliceStable(es, func(i, j int) bool { return l.deref(es[i].key).Value < l.deref(es[j].key).Value })
		b.WriteByte('{')
		for _, e := range es {
			k := l.deref(e.key)
			b.WriteString(strconv.Quote(k.Value))
			b.WriteByte(':')
			l.canon(b, e.val, k.Value, inPayload || k.Value == "payload")
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for _, c := range n.Content {
			l.canon(b, c, "", inPayload)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			var v bool
			_ = n.Decode(&v)
			b.WriteString(strconv.FormatBool(v))
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err == nil && !math.IsNaN(f) {
				b.WriteString("n:" + strconv.FormatFloat(f, 'g', -1, 64))
			} else {
				b.WriteString("s:" + strconv.Quote(n.Value))
			}
		case "!!timestamp":
			var t time.Time
			if err := n.Decode(&t); err == nil {
				b.WriteString("t:" + t.UTC().Format(time.RFC3339Nano))
			} else {
				b.WriteString("s:" + strconv.Quote(n.Value))
			}
		default:
			if exprKeys[key] && !inPayload {
				b.WriteString("e:" + canonExpr(n.Value))
			} else {
				b.WriteString("s:" + strconv.Quote(n.Value))
			}
		}
	}
}

// canonExpr is an expression's token sequence.
func canonExpr(src string) string {
	toks, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return strconv.Quote(src)
	}
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(string(t.Kind))
		b.WriteByte(':')
		b.WriteString(strconv.Quote(t.Value))
		b.WriteByte(' ')
	}
	return b.String()
}

// version hashes the canonical form of the rules (tests excluded):
// profile fields by name, segments, offers and experiments by id,
// arbitration; so neither file names nor the order of files or entries
// change it.
func (l *loader) version(s *sections, segs []segDecl, offers []offerDecl) string {
	var b strings.Builder
	b.WriteString("arbiter-rules-v1\nprofile:")
	type kv struct {
		k string
		v *yaml.Node
	}
	var prof []kv
	for _, e := range s.profile {
		if k := l.deref(e.key); k != nil {
			prof = append(prof, kv{k.Value, e.val})
		}
	}
	sort.Slice(prof, func(i, j int) bool { return prof[i].k < prof[j].k })
	for _, p := range prof {
		b.WriteString(strconv.Quote(p.k) + "=")
		l.canon(&b, p.v, p.k, false)
		b.WriteByte(',')
	}
	b.WriteString("\nsegments:")
	sortedSegs := append([]segDecl(nil), segs...)
	sort.Slice(sortedSegs, func(i, j int) bool { return sortedSegs[i].id < sortedSegs[j].id })
	for _, d := range sortedSegs {
		l.canon(&b, d.node, "", false)
		b.WriteByte(',')
	}
	b.WriteString("\noffers:")
	for _, d := range offers { // sorted by id
		l.canon(&b, d.node, "", false)
		b.WriteByte(',')
	}
	b.WriteString("\nexperiments:")
	var exps []string
	for _, n := range s.experiments {
		var eb strings.Builder
		l.canon(&eb, n, "", false)
		exps = append(exps, eb.String())
	}
	sort.Strings(exps) // a set: the order of files and entries does not matter
	b.WriteString(strings.Join(exps, ","))
	b.WriteString("\narbitration:")
	if s.arbitration != nil {
		l.canon(&b, s.arbitration, "arbitration", false)
	}
	l.versionCurrency(&b)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:4])
}
