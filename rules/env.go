package rules

// The expression environment. Every expression is compiled against a typed
// description of these names (so that an unknown name or a wrong type is an
// error at load) and evaluated by the engine with a map[string]any of this
// shape; the Go types below are a contract between the two packages:
//
//	profile   map[string]any: every schema field, with the Go type of its
//	          Type (string, int, float64, bool, time.Time, []string,
//	          []float64), plus "id" (string) and "known" (bool)
//	cart      map[string]any: "total" (float64, major units), "currency"
//	          (string), "item_count" (int, sum of quantities), "items"
//	          ([]any of item maps)
//	item      map[string]any: "sku", "category" (string), "price" (float64,
//	          major units), "quantity" (int), "tags" ([]string); only in
//	          discount.items filters
//	ctx       map[string]any: the request's context as decoded from JSON
//	          (string, float64, bool, []any), plus "placement" and
//	          "channel" (string)
//	now       time.Time: the decision's time
//	segments  []string: the ids of the segments matched so far
//	priority  float64: the offer's priority; only in score expressions
//	          (the constant EnvPriority)
//
// Results: conditions (when, discount.items) are compiled with
// expr.AsBool and number expressions (percent, amount, score) with
// expr.AsFloat64, so a program returns a bool or a float64 (an int result
// is converted), or a run-time error. The functions daysSince, hoursSince,
// daysUntil, anniversaryWithin, hourIn and weekdayIn read "now" from the
// environment: it must always be set.
const (
	EnvProfile  = "profile"
	EnvCart     = "cart"
	EnvItem     = "item"
	EnvCtx      = "ctx"
	EnvNow      = "now"
	EnvSegments = "segments"
)
