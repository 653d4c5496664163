package rules

import (
	"strings"
	"testing"
)

// An expectation that can never be met, or none at all, is a load error at
// its line: a case with `expect: {}` would pass whatever the rules decide,
// and a negative discount_total would fail whatever they decide.
func TestExpectThatChecksNothing(t *testing.T) {
	rules := "profile:\n  ltv: number\nsegments:\n  - id: vip\n    when: profile.ltv >= 1000\noffers:\n  - id: a\n    kind: action\n    priority: 10\n"
	for _, tc := range []struct {
		name, test, want string
	}{
		{"empty expect", "expect: {}", "a_test.yaml:3:13: test `x`: expect checks nothing"},
		{"negative discount_total", "expect: {discount_total: -1}", "a_test.yaml:3:30: test `x`: expect.discount_total must be 0 or more, got -1"},
	} {
		es := loadErrs(t, map[string]string{"r.yaml": rules, "a_test.yaml": "tests:\n  - name: x\n    " + tc.test + "\n"})
		if len(es) != 1 || !strings.HasPrefix(es[0].Error(), tc.want) {
			t.Errorf("%s: errors %v, want one beginning %q", tc.name, es, tc.want)
		}
	}
	// an expectation of none is an expectation
	mustLoad(t, map[string]string{"r.yaml": rules, "a_test.yaml": "tests:\n  - name: x\n    expect: {actions: []}\n"})
}
