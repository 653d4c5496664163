package rules

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/arbiterhq/arbiter/exprenv"
)

var typeNames = map[string]Type{
	"string":   TypeString,
	"int":      TypeInt,
	"number":   TypeNumber,
	"bool":     TypeBool,
	"time":     TypeTime,
	"[string]": TypeStringList,
	"[number]": TypeNumberList,
}

// typeAliases are the names other languages give the types.
var typeAliases = map[string]string{
	"integer": "int", "long": "int", "int64": "int",
	"float": "number", "float64": "number", "double": "number", "decimal": "number", "numeric": "number", "money": "number",
	"boolean":  "bool",
	"datetime": "time", "timestamp": "time", "date": "time",
	"str": "string", "text": "string", "int": "int", "num": "number", "bool": "bool", "time": "time",
	"list": "[string]", "array": "[string]", "[]string": "[string]", "tags": "[string]",
	"[float]": "[number]", "[]number": "[number]", "[]float64": "[number]",
}

var typeList = []string{"string", "int", "number", "bool", "time", "[string]", "[number]"}

// String is the type's name as written in the schema.
func (t Type) String() string {
	for k, v := range typeNames {
		if v == t {
			return k
		}
	}
	return "unknown"
}

// identPattern is a plain name: the ids of segments, offers, experiments,
// variants and layers, and profile field names (the JSON Schema says the
// same).
const identPattern = `^[A-Za-z_][A-Za-z0-9_]*$`

var identRE = regexp.MustCompile(identPattern)

// zeroOf is the zero value of a field type.
func zeroOf(t Type) any {
	switch t {
	case TypeString:
		return ""
	case TypeInt:
		return 0
	case TypeNumber:
		return 0.0
	case TypeBool:
		return false
	case TypeTime:
		return time.Time{}
	case TypeStringList:
		return []string{}
	case TypeNumberList:
		return []float64{}
	}
	return nil
}

// schemaField compiles one `name: type` or `name: {type, default}` entry.
func (l *loader) schemaField(k, v *yaml.Node) (Field, bool) {
	name := k.Value
	f := Field{Name: name, Pos: l.pos(k)}
	if !identRE.MatchString(name) {
		l.errf(k, "use letters, digits and _", "profile field name %q is not a plain name", name)
		return f, false
	}
	if name == "id" || name == "known" {
		l.errf(k, "choose another name", "profile field `%s` is built in (profile.id and profile.known always exist)", name)
		return f, false
	}
	var typeNode, defNode *yaml.Node
	d := l.deref(v)
	if d != nil && d.Kind == yaml.MappingNode {
		fs, ok := l.mapping(d, "profile field `"+name+"`", fieldDef)
		if !ok {
			return f, false
		}
		typeNode, defNode = fs.get("type"), fs.get("default")
		if n := fs.get("pii"); n != nil {
			if b, ok := l.boolean(n, "profile field `"+name+"`: pii"); ok {
				f.PII = b
			}
		}
		if typeNode == nil {
			l.errf(d, "write {type: string, default: basic}", "profile field `%s` has no type", name)
			return f, false
		}
	} else {
		typeNode = d
	}
	tn := l.deref(typeNode)
	var tname string
	if tn != nil && tn.Kind == yaml.SequenceNode && len(tn.Content) == 1 {
		// [string] written unquoted is a YAML list of one
		if s := l.deref(tn.Content[0]); s != nil && s.Kind == yaml.ScalarNode {
			tname = "[" + s.Value + "]"
		}
	} else if tn != nil && tn.Kind == yaml.ScalarNode {
		tname = strings.ReplaceAll(tn.Value, " ", "")
	}
	t, ok := typeNames[tname]
	if !ok {
		// a typo or another language's name of a type: say which to
		// write, and read the field as that type so that the expressions
		// that read it are checked, not reported as unknown
		right := typeAliases[strings.ToLower(tname)]
		for _, pre := range []string{"int", "num", "bool", "str", "time", "date"} {
			if right == "" && len(tname) > len(pre) && strings.HasPrefix(strings.ToLower(tname), pre) {
				right = typeAliases[pre]
			}
		}
		if right == "" {
			right = exprenv.Closest(tname, typeList)
		}
		if right != "" {
			written := right
			if strings.HasPrefix(written, "[") {
				written = `"` + written + `"` // [string] unquoted is a YAML list
			}
			if d != nil && d.Kind == yaml.MappingNode {
				written = "type: " + written
			} else {
				written = name + ": " + written
			}
			l.cause(typeNode, "did you mean `"+right+"`? write `"+written+"`", "profile field `%s`: unknown type %s", name, describe(tn))
			t = typeNames[right]
		} else {
			l.cause(typeNode, "one of: "+strings.Join(typeList, ", "), "profile field `%s`: unknown type %s", name, describe(tn))
			return f, false
		}
	}
	f.Type = t
	f.Default = zeroOf(t)
	if defNode != nil && !isNull(defNode) {
		def, ok := l.typedValue(defNode, t, "the default of profile field `"+name+"`")
		if !ok {
			return f, false
		}
		f.Default = def
	}
	return f, true
}

// typedValue reads a YAML value as a value of field type t.
func (l *loader) typedValue(n *yaml.Node, t Type, what string) (any, bool) {
	switch t {
	case TypeString:
		return l.str(n, what)
	case TypeInt:
		i, ok := l.integer(n, what)
		return int(i), ok
	case TypeNumber:
		return l.num(n, what)
	case TypeBool:
		return l.boolean(n, what)
	case TypeTime:
		tm, ok := l.timestamp(n, what)
		return tm.UTC(), ok
	case TypeStringList:
		items, ok := l.seq(n, what)
		if !ok {
			return nil, false
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := l.str(it, what+" item")
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	case TypeNumberList:
		items, ok := l.seq(n, what)
		if !ok {
			return nil, false
		}
		out := make([]float64, 0, len(items))
		for _, it := range items {
			f, ok := l.num(it, what+" item")
			if !ok {
				return nil, false
			}
			out = append(out, f)
		}
		return out, true
	}
	return nil, false
}

// Names lists the schema's field names, in the order written.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Suggest is the schema field closest to name, a likely right spelling of
// it ("" when none is close).
func (s *Schema) Suggest(name string) string {
	return exprenv.Closest(name, s.Names())
}
