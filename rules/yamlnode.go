package rules

import (
	"bytes"
	"fmt"
	"math"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/exprenv"
)

// maxAliasExpansion bounds how many nodes the loader visits through YAML
// aliases, so that a "billion laughs" file fails instead of exhausting memory.
const maxAliasExpansion = 200_000

// loader holds one load's state: the files read, where every node comes
// from, and the problems found so far.
type loader struct {
	files    map[string]*srcFile
	nodeFile map[*yaml.Node]*srcFile
	errs     Errors
	warnings Errors // problems that do not stop the rules from loading
	aliases  int
	merging  map[*yaml.Node]bool // mappings whose << merge keys are being read
	money    moneyState          // the ruleset's currency (currency.go)
	// learns: the rules have arbitration.learning (scores may read
	// propensity, variants may turn it off).
	learns bool
	// dropped holds what was declared under a key the loader could not
	// read ("segment:ID", "offer:ID", "experiment:ID", "profile.NAME"):
	// references to them are not reported, as they follow from that
	// key's error; suppressed counts them.
	dropped    map[string]bool
	dropKey    *yaml.Node // the last key dropped
	suppressed int
}

func newLoader() *loader {
	return &loader{files: map[string]*srcFile{}, nodeFile: map[*yaml.Node]*srcFile{}}
}

// pos is where node n starts.
func (l *loader) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{Line: 1, Col: 1}
	}
	f := l.nodeFile[n]
	p := Pos{Line: n.Line, Col: n.Column}
	if f != nil {
		p.File = f.path
	}
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Col < 1 {
		p.Col = 1
	}
	return p
}

func (l *loader) errAt(p Pos, hint, format string, args ...any) {
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Col < 1 {
		p.Col = 1
	}
	l.errs = append(l.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (l *loader) errf(n *yaml.Node, hint, format string, args ...any) {
	l.errAt(l.pos(n), hint, format, args...)
}

// cause records a problem that is a likely cause of others: it is listed
// first.
func (l *loader) cause(n *yaml.Node, hint, format string, args ...any) {
	l.errf(n, hint, format, args...)
	l.errs[len(l.errs)-1].Cause = true
}

// refErr records an unknown reference (ref as in loader.dropped), unless
// it follows from a key the loader could not read.
func (l *loader) refErr(n *yaml.Node, ref, hint, format string, args ...any) {
	if l.dropped[ref] {
		l.suppressed++
		return
	}
	l.errf(n, hint, format, args...)
}

// drop records the ids declared in v, the value of a key that was not read.
func (l *loader) drop(k, v *yaml.Node) {
	d := l.deref(v)
	l.dropKey = k
	if d == nil || d.Kind != yaml.SequenceNode {
		return
	}
	if l.dropped == nil {
		l.dropped = map[string]bool{}
	}
	for _, it := range d.Content {
		it = l.deref(it)
		if it == nil || it.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(it.Content); i += 2 {
			if it.Content[i].Value == "id" && it.Content[i+1].Kind == yaml.ScalarNode {
				id := it.Content[i+1].Value
				l.dropped["segment:"+id] = true
				l.dropped["offer:"+id] = true
				l.dropped["experiment:"+id] = true
			}
		}
	}
}

// register records the file of n and every node under it.
func (l *loader) register(f *srcFile, n *yaml.Node) {
	if n == nil {
		return
	}
	if _, seen := l.nodeFile[n]; seen {
		return
	}
	l.nodeFile[n] = f
	for _, c := range n.Content {
		l.register(f, c)
	}
	if n.Alias != nil {
		l.register(f, n.Alias)
	}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)(?::(\d+))?`)

// YAMLSyntaxHint is what to check in YAML that does not parse.
const YAMLSyntaxHint = "check the indentation and that a value with \": \" or \"#\" is quoted"

// YAMLSyntaxError places err, the error of yaml.v3 decoding data (the
// file path), in that file: the line at which the text first fails as it
// does (the parser names the line where the enclosing block starts), at
// its first character that is not blank, and the parser's message without
// its "yaml: line N:" prefix; line 1, column 1 for an error that names no
// line. Other readers of YAML files report the syntax errors of their
// files as the rules loader does with it ("invalid YAML: " + msg, and
// YAMLSyntaxHint).
func YAMLSyntaxError(path string, data []byte, err error) (p Pos, msg string) {
	if p, msg, bad := notUTF8(path, data); bad {
		return p, msg
	}
	return placeYAMLError(newSrcFile(path, data), err)
}

// NotUTF8Hint is what to do about a file that is not UTF-8 text.
const NotUTF8Hint = "save the file as UTF-8: most editors have it under Save As or Encoding"

// notUTF8 finds the first byte of data that is not UTF-8 (a Latin-1 or
// Windows-1252 "é" of a spreadsheet export), which the YAML decoder
// reports without a line: bad is false when data is UTF-8, or UTF-16 with
// its byte order mark (which the decoder reads).
func notUTF8(path string, data []byte) (p Pos, msg string, bad bool) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || utf8.Valid(data) {
		return Pos{}, "", false
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return Pos{File: path, Line: line, Col: col}, fmt.Sprintf("not UTF-8 text: byte 0x%02X is not a character in UTF-8", data[i]), true
		}
		switch r {
		case '\n':
			line, col = line+1, 1
		case '\r':
		default:
			col++
		}
		i += size
	}
	return Pos{}, "", false
}

func placeYAMLError(f *srcFile, err error) (Pos, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Pos{File: f.path, Line: 1, Col: 1}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(yamlLineRE.ReplaceAllString(msg, ""))
		msg = strings.TrimPrefix(msg, ": ")
	}
	// the parser reports where the enclosing block starts; find the
	// first line at which the text fails the same way
	if line, ok := firstFailingLine(f, msg); ok {
		p.Line = line
		p.Col = 1
		for _, r := range f.lines[line-1] {
			if r != ' ' && r != '\t' {
				break
			}
			p.Col++
		}
	}
	return p, msg
}

// parseFile decodes every YAML document of a file into its root nodes.
func (l *loader) parseFile(path string, data []byte) []*yaml.Node {
	f := newSrcFile(path, data)
	l.files[path] = f
	if p, msg, bad := notUTF8(path, data); bad {
		l.errAt(p, NotUTF8Hint, "%s", msg)
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var roots []*yaml.Node
	for {
		doc = yaml.Node{}
		err := dec.Decode(&doc)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			p, msg := placeYAMLError(f, err)
			l.errAt(p, YAMLSyntaxHint, "invalid YAML: %s", msg)
			return roots
		}
		root := &doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		l.register(f, root)
		roots = append(roots, root)
	}
	return roots
}

// deref follows aliases, counting against the expansion budget.
func (l *loader) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		l.aliases++
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func (l *loader) overBudget() bool { return l.aliases > maxAliasExpansion }

// entry is one key of a mapping.
type entry struct {
	key, val *yaml.Node
}

// fields is a mapping whose keys were checked against the allowed ones.
type fields struct {
	node *yaml.Node
	m    map[string]entry
	keys []string // in written order
}

func (fs *fields) get(k string) *yaml.Node {
	if fs == nil {
		return nil
	}
	return fs.m[k].val
}

func (fs *fields) has(k string) bool {
	if fs == nil {
		return false
	}
	_, ok := fs.m[k]
	return ok
}

func (fs *fields) key(k string) *yaml.Node {
	if fs == nil {
		return nil
	}
	return fs.m[k].key
}

// entries lists a mapping's key/value pairs, following aliases and merge
// keys (<<); it reports a node that is not a mapping.
func (l *loader) entries(n *yaml.Node, what string) ([]entry, bool) {
	n = l.deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		l.errf(n, "", "%s must be a mapping (key: value lines), got %s", what, describe(n))
		return nil, false
	}
	if l.merging == nil {
		l.merging = map[*yaml.Node]bool{}
	}
	if l.merging[n] {
		l.errf(n, "", "%s merges itself through << (an alias cycle)", what)
		return nil, false
	}
	l.merging[n] = true
	defer delete(l.merging, n)
	var out, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			v = l.deref(v)
			var srcs []*yaml.Node
			if v != nil && v.Kind == yaml.SequenceNode {
				srcs = v.Content
			} else {
				srcs = []*yaml.Node{v}
			}
			for _, s := range srcs {
				if l.overBudget() {
					break
				}
				es, ok := l.entries(s, what+" (merged with <<)")
				if ok {
					merged = append(merged, es...)
				}
			}
			continue
		}
		out = append(out, entry{k, v})
	}
	// merged keys come first and are overridden by the mapping's own
	for _, m := range merged {
		dup := false
		for _, o := range out {
			if o.key.Value == m.key.Value {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out, true
}

// mapping checks a mapping's keys against its definition in the key table
// (keys.go): each must be allowed, and appear once. An unknown key is
// reported with a did-you-mean, or with where it belongs when it is a key
// of the mapping above or below ("check the indentation"); a misspelt key
// whose right spelling is not written too is then read as if spelt right,
// so that what follows from the typo is not reported as well.
func (l *loader) mapping(n *yaml.Node, what string, def *objDef) (*fields, bool) {
	es, ok := l.entries(n, what)
	if !ok {
		return nil, false
	}
	allowed := def.names()
	fs := &fields{node: l.deref(n), m: map[string]entry{}}
	allow := map[string]bool{}
	written := map[string]bool{}
	for _, a := range allowed {
		allow[a] = true
	}
	for _, e := range es {
		if k := l.deref(e.key); k != nil {
			written[k.Value] = true
		}
	}
	prev := ""
	for _, e := range es {
		k := l.deref(e.key)
		if k == nil || k.Kind != yaml.ScalarNode {
			l.errf(e.key, "", "%s: a key must be a plain name", what)
			continue
		}
		name := k.Value
		if !allow[name] {
			name = l.unknownKey(k, e.val, what, def, allowed, prev, written)
			if name == "" {
				prev = k.Value
				continue
			}
		}
		prev = k.Value
		if p, dup := fs.m[name]; dup {
			pp := l.pos(p.key)
			l.errf(k, "remove one of them", "key `%s` appears twice in %s (also at line %d)", name, what, pp.Line)
			continue
		}
		fs.m[name] = entry{k, e.val}
		fs.keys = append(fs.keys, name)
	}
	return fs, true
}

// simulateFileKind is the kind of `arbiter simulate` file ("truth",
// "traffic") that has top-level key name, which a rule file does not have;
// "" for any other key.
func simulateFileKind(name string) string {
	switch name {
	case "value", "delay":
		return "truth"
	case "placements", "categories":
		return "traffic"
	}
	return ""
}

// unknownKey reports key k, unknown in a mapping of def, and returns the
// key to read it as: its right spelling when it is a typo of a key that is
// not written too, else "" (the key is dropped, and what it declares with
// it: references to those are not reported).
func (l *loader) unknownKey(k, v *yaml.Node, what string, def *objDef, allowed []string, prev string, written map[string]bool) string {
	name := k.Value
	unknown := fmt.Sprintf("unknown key `%s` in %s (known: %s)", name, what, strings.Join(allowed, ", "))
	misplaced := fmt.Sprintf("`%s` is not a key of %s", name, what)
	if def == ruleFileDef {
		unknown = fmt.Sprintf("unknown top-level key `%s` (known: %s)", name, strings.Join(allowed, ", "))
		misplaced = fmt.Sprintf("`%s` is not a top-level key", name)
	}
	if kind := simulateFileKind(name); def == ruleFileDef && kind != "" {
		// a truth or traffic file of arbiter simulate, named without
		// _truth.yaml or _traffic.yaml
		base := path.Base(l.pos(k).File)
		stem := strings.TrimSuffix(strings.TrimSuffix(base, ".yml"), ".yaml")
		if stem == kind {
			stem = "shop"
		}
		l.cause(k, "is "+base+" a "+kind+" file of `arbiter simulate`? name it "+stem+
			"_"+kind+".yaml: files so named are not rules", "%s", unknown)
		l.drop(k, v)
		return ""
	}
	if hint := misplacedHint(def, name, prev); hint != "" {
		l.cause(k, hint, "%s", misplaced)
		l.drop(k, v)
		return ""
	}
	if c := exprenv.Closest(name, allowed); c != "" {
		if written[c] {
			l.cause(k, "did you mean `"+c+"`? it is written too: remove one of them", "%s", unknown)
			l.drop(k, v)
			return ""
		}
		l.cause(k, "did you mean `"+c+"`? the rest is checked as if it were", "%s", unknown)
		return c
	}
	l.cause(k, "", "%s", unknown)
	l.drop(k, v)
	return ""
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "nothing"
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// str reads a scalar as a string (any scalar but null).
func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	n = l.deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errf(n, "", "%s must be a text value, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// num reads a number (an int or a float).
func (l *loader) num(n *yaml.Node, what string) (float64, bool) {
	n = l.deref(n)
	if n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	if hint, ok := numberHint(n, what); ok {
		l.errf(n, hint, "%s must be a plain number, got %s", what, describe(n))
		return 0, false
	}
	l.errf(n, quotedNumberHint(n, what, quotedNumberRE), "%s must be a number, got %s", what, describe(n))
	return 0, false
}

// quotedNumberHint says to write a number written in quotes (`priority:
// "80"`: a text to YAML) without them, when n is such a text (re:
// quotedNumberRE or quotedWholeRE); else "".
func quotedNumberHint(n *yaml.Node, what string, re *regexp.Regexp) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" || !re.MatchString(n.Value) {
		return ""
	}
	key := lastWordRE.FindString(what)
	if key == "" {
		key = "value"
	}
	return "write `" + key + ": " + strings.TrimSpace(n.Value) + "`, without quotes: in quotes it is a text"
}

var (
	percentRE = regexp.MustCompile(`^\s*([-+]?[0-9]+(?:[.,][0-9]+)?)\s*%\s*$`)
	moneyRE   = regexp.MustCompile(`^\s*(?:[$€£¥]|USD|EUR|GBP|JPY)?\s*([-+]?[0-9][0-9.,]*)\s*(?:[$€£¥]|USD|EUR|GBP|JPY)?\s*$`)
	// groupedRE is digits in groups of three after the first: 1,234,567.
	groupedRE  = regexp.MustCompile(`^[0-9]{1,3}(?:[.,][0-9]{3})+$`)
	lastWordRE = regexp.MustCompile(`([a-z_]+)$`)
	// quotedNumberRE and quotedWholeRE are numbers written in quotes
	// (`priority: "80"`): a text to YAML.
	quotedNumberRE = regexp.MustCompile(`^\s*[-+]?[0-9]+(?:\.[0-9]+)?\s*$`)
	quotedWholeRE  = regexp.MustCompile(`^\s*[-+]?[0-9]+\s*$`)
)

// numberHint says what to write for a number written with a % sign, a
// currency or thousands separators ("percent: 10%" → "write `percent:
// 10`"); ok is false for anything else.
func numberHint(n *yaml.Node, what string) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", false
	}
	key := lastWordRE.FindString(what)
	if key == "" {
		key = "value"
	}
	if m := percentRE.FindStringSubmatch(n.Value); m != nil {
		return "write `" + key + ": " + strings.Replace(m[1], ",", ".", 1) + "`: the number of percent, without %", true
	}
	if m := moneyRE.FindStringSubmatch(n.Value); m != nil {
		if num, ok := plainNumber(m[1]); ok && num != n.Value {
			return "write `" + key + ": " + num + "`: a number in major units, without a currency sign or separators", true
		}
	}
	return "", false
}

// plainNumber writes a number written with thousands separators or a
// decimal comma as YAML reads a number: "3,000" → 3000, "12,50" → 12.50,
// "1.500,00" → 1500.00, "1,234.5" → 1234.5. When both marks appear, the
// last is the decimal one; a lone comma before exactly three digits is a
// thousands separator, before any other number of digits a decimal comma;
// a lone point is a decimal point, as in YAML. ok is false when the
// separators do not group the digits by three ("1,5,0", "1.23,4").
func plainNumber(s string) (string, bool) {
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	last := strings.LastIndexAny(s, ".,")
	if last < 0 {
		return sign + s, true
	}
	mark, intPart, frac := s[last], s[:last], s[last+1:]
	other := "."
	if mark == '.' {
		other = ","
	}
	drop := func(marks, t string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(marks, r) {
				return -1
			}
			return r
		}, t)
	}
	switch {
	case strings.ContainsRune(intPart, rune(mark)): // 1,234,567 or 1.500.000: thousands only
		if strings.Contains(s, other) || !groupedRE.MatchString(s) {
			return "", false
		}
		return sign + drop(".,", s), true
	case strings.Contains(intPart, other): // 1,234.50 or 1.234,50
		if !groupedRE.MatchString(intPart) || frac == "" {
			return "", false
		}
		return sign + drop(other, intPart) + "." + frac, true
	case mark == ',' && len(frac) == 3: // 3,000
		return sign + intPart + frac, true
	case frac == "" || intPart == "":
		return "", false
	}
	return sign + intPart + "." + frac, true // 12,50 or 12.50
}

// fractionWarning warns about a constant percent written as a fraction
// (0.15 where 15% was likely meant): it loads, as a fraction of one
// percent, since a discount that small is rarely meant. what names the
// key (`offer `w`: discount.percent`); the warning is given once per
// place (an override compiles its offer again).
func (l *loader) fractionWarning(n *yaml.Node, what string, f float64) {
	if !(f > 0 && f < 1) {
		return
	}
	p := l.pos(l.deref(n))
	for _, w := range l.warnings {
		if w.Pos == p {
			return
		}
	}
	key := lastWordRE.FindString(what)
	meant := strconv.FormatFloat(math.Round(f*100*1e9)/1e9, 'f', -1, 64)
	l.warnings = append(l.warnings, &Error{Pos: p,
		Msg:  fmt.Sprintf("%s is %v percent, not %s%%: percents are written as numbers of percent", what, f, meant),
		Hint: fmt.Sprintf("write `%s: %s` for %s%%, or leave it if a fraction of one percent is meant", key, meant, meant)})
}

// integer reads a whole number.
func (l *loader) integer(n *yaml.Node, what string) (int64, bool) {
	n = l.deref(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, true
		}
	}
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
		var f float64
		if err := n.Decode(&f); err == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return int64(f), true
		}
	}
	l.errf(n, quotedNumberHint(n, what, quotedWholeRE), "%s must be a whole number, got %s", what, describe(n))
	return 0, false
}

func (l *loader) boolean(n *yaml.Node, what string) (bool, bool) {
	n = l.deref(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	l.errf(n, "write true or false", "%s must be true or false, got %s", what, describe(n))
	return false, false
}

// timestamp reads an RFC 3339 time (a YAML timestamp or a string).
func (l *loader) timestamp(n *yaml.Node, what string) (time.Time, bool) {
	return l.timestampIn(n, what, nil)
}

// zonelessLayouts are the ways a time is written without its zone.
var zonelessLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// timestampIn reads an RFC 3339 time. A time written without its zone is
// an error whose hint writes it with one: zone's offset at that time when
// zone is not nil (a schedule's timezone, which reads only days and
// hours), else Z.
func (l *loader) timestampIn(n *yaml.Node, what string, zone *time.Location) (time.Time, bool) {
	n = l.deref(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		if t, err := time.Parse(time.RFC3339Nano, n.Value); err == nil {
			return t, true
		}
		for _, layout := range zonelessLayouts {
			if zone == nil {
				if t, err := time.Parse(layout, strings.TrimSpace(n.Value)); err == nil {
					l.errf(n, "write "+t.Format(time.RFC3339)+" for UTC, or your zone's offset from UTC, like "+
						strings.TrimSuffix(t.Format(time.RFC3339), "Z")+"+01:00",
						"%s has no time zone, got %s", what, describe(n))
					return time.Time{}, false
				}
				continue
			}
			if t, err := time.ParseInLocation(layout, strings.TrimSpace(n.Value), zone); err == nil {
				l.errf(n, "write "+t.Format(time.RFC3339)+" for "+t.Format("15:04")+" in "+zone.String()+
					": the schedule's timezone reads only days and hours",
					"%s has no time zone, got %s", what, describe(n))
				return time.Time{}, false
			}
		}
	}
	l.errf(n, "write a time like 2026-11-27T00:00:00+08:00", "%s must be an RFC 3339 time, got %s", what, describe(n))
	return time.Time{}, false
}

// seq lists a sequence's items.
func (l *loader) seq(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	n = l.deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		l.errf(n, "write a list: [a, b] or one `- item` per line", "%s must be a list, got %s", what, describe(n))
		return nil, false
	}
	return n.Content, true
}

// strList reads a list of strings; a single string is accepted as a list
// of one, but not one with a comma (`placements: checkout, cart`: a list
// written without its brackets, which YAML reads as one name).
func (l *loader) strList(n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	d := l.deref(n)
	if d != nil && d.Kind == yaml.ScalarNode && d.Tag != "!!null" {
		if d.Style == 0 && strings.Contains(d.Value, ",") {
			key := lastWordRE.FindString(what)
			if key == "" {
				key = "list"
			}
			l.errf(d, "write `"+key+": ["+d.Value+"]`: without the brackets it is one name", "%s must be a list, got %s", what, describe(d))
			return nil, nil, false
		}
		return []string{d.Value}, []*yaml.Node{d}, true
	}
	items, ok := l.seq(n, what)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	nodes := make([]*yaml.Node, 0, len(items))
	good := true
	for _, it := range items {
		s, ok := l.str(it, what+" item")
		if !ok {
			good = false
			continue
		}
		out = append(out, s)
		nodes = append(nodes, l.deref(it))
	}
	return out, nodes, good
}

// sortErrors orders problems by file, line and column and drops repeats
// (an experiment override recompiles its base offer's expressions).
func sortErrors(es Errors) Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return es[i].Msg < es[j].Msg
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.Pos == es[i-1].Pos && e.Msg == es[i-1].Msg && e.Hint == es[i-1].Hint {
			continue
		}
		out = append(out, e)
	}
	// the likely causes (unknown and misplaced keys) first
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cause && !out[j].Cause })
	return out
}

// firstFailingLine finds the first line at which a prefix of the file
// fails to parse with the message msg (files up to 500 lines).
func firstFailingLine(f *srcFile, msg string) (int, bool) {
	if len(f.lines) > 500 {
		return 0, false
	}
	var b strings.Builder
	for k, line := range f.lines {
		b.WriteString(string(line))
		b.WriteByte('\n')
		dec := yaml.NewDecoder(strings.NewReader(b.String()))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			if err.Error() != "EOF" {
				m := strings.TrimPrefix(err.Error(), "yaml: ")
				m = strings.TrimPrefix(strings.TrimSpace(yamlLineRE.ReplaceAllString(m, "")), ": ")
				if m == msg {
					return k + 1, true
				}
			}
			break
		}
	}
	return 0, false
}
