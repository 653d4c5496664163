package exprenv

import (
	"strings"
	"testing"
)

// Closest is the one "did you mean" of the rule files and the JSON
// decoder: case, '_' and '-' do not count, then the edit distance (a swap
// of neighbours is one edit) within a bound that grows with the name.
func TestClosest(t *testing.T) {
	fields := []string{"customer_id", "placement", "channel", "cart", "context", "limit", "explain", "dry_run", "now"}
	cases := []struct{ name, want string }{
		{"dryrun", "dry_run"},
		{"DRY-RUN", "dry_run"},
		{"CustomerID", "customer_id"},
		{"placment", "placement"},
		{"cahnnel", "channel"},
		{"nwo", "now"},
		{"limt", "limit"},
		{"dry_run", ""}, // itself: no hint
		{"zzz", ""},
		{"", ""},
		{strings.Repeat("x", 60000), ""},
		{strings.Repeat("dry_run", 3), ""},
	}
	for _, c := range cases {
		if got := Closest(c.name, fields); got != c.want {
			t.Errorf("Closest(%.20q) = %q, want %q", c.name, got, c.want)
		}
	}
	if got := DidYouMean("last_oder_at", []string{"last_order_at", "ltv"}, "profile."); got != "did you mean `profile.last_order_at`?" {
		t.Errorf("didYouMean = %q", got)
	}
}

// A long unknown name costs no more than its length: it is never compared
// rune by rune with names far shorter.
func BenchmarkClosestLongName(b *testing.B) {
	name := strings.Repeat("x", 60000)
	fields := []string{"customer_id", "placement", "channel", "cart", "context", "limit", "explain", "dry_run", "now"}
	b.ReportAllocs()
	for b.Loop() {
		Closest(name, fields)
	}
}
