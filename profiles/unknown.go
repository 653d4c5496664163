package profiles

import (
	"sort"

	"github.com/arbiterhq/arbiter/rules"
)

// Unknown lists the fields of a profile's JSON form m that the schema does
// not declare ("id" and "known" aside), sorted by name, each with a
// did-you-mean when a schema field is close: a misspelt field would
// otherwise be dropped and read as its default (`last_order` for
// `last_order_at` makes every customer lapsed). Callers refuse them, or
// warn where a data team's extra fields are legitimate (--allow-extra).
func Unknown(schema *rules.Schema, m map[string]any) FieldErrors {
	if schema == nil {
		return nil
	}
	var names []string
	for k := range m {
		if k == "id" || k == "known" || k == KnownMarker {
			continue
		}
		if _, ok := schema.Field(k); !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := make(FieldErrors, 0, len(names))
	for _, k := range names {
		out = append(out, &FieldError{Field: k, Msg: UnknownMsg(schema, k)})
	}
	return out
}

// UnknownMsg says that field is not in the schema, and what to write.
func UnknownMsg(schema *rules.Schema, field string) string {
	if s := schema.Suggest(field); s != "" {
		return "unknown field (did you mean `" + s + "`? the rules' profile schema has no `" + field + "`)"
	}
	return "unknown field (the rules' profile schema has no `" + field + "`: declare it under `profile:`, or remove it)"
}
