package loadgen

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/rules"
)

func offerByID(t *testing.T, rs *rules.Ruleset, id string) *rules.Offer {
	t.Helper()
	for _, o := range rs.Offers {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("no offer %q in the derived rules", id)
	return nil
}

func TestDeriveCapped(t *testing.T) {
	dst := t.TempDir()
	got, err := DeriveCapped("testdata/rules", dst, CapsOptions{Share: 0.5, Total: 1000000, Budget: 250000.5})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"big_discount", "small_discount"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("capped %v, want %v", got, want)
	}
	rs, err := rulefiles.Load(dst)
	if err != nil {
		t.Fatalf("the derived rules do not load: %v", err)
	}
	for _, id := range got {
		c := offerByID(t, rs, id).Caps
		if c.Total != 1000000 || c.Budget != 250000.5 {
			t.Errorf("%s: caps %+v, want total 1000000 and budget 250000.5", id, c)
		}
	}
	kept := offerByID(t, rs, "capped_discount").Caps
	if kept.PerCustomer != 1 || kept.Window != 24*time.Hour || kept.Total != 0 {
		t.Errorf("capped_discount's own caps changed: %+v", kept)
	}
	if c := offerByID(t, rs, "nudge").Caps; c.Any() {
		t.Errorf("nudge got caps %+v", c)
	}
}

func TestDeriveStripped(t *testing.T) {
	dst := t.TempDir()
	got, err := DeriveCapped("testdata/rules", dst, CapsOptions{StripExisting: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("share 0 capped %v", got)
	}
	rs, err := rulefiles.Load(dst)
	if err != nil {
		t.Fatalf("the derived rules do not load: %v", err)
	}
	for _, o := range rs.Offers {
		if o.Caps.Any() {
			t.Errorf("%s still has caps %+v", o.ID, o.Caps)
		}
	}
}

// The example rules, which the benchmark scenarios derive from, stay
// derivable: about 10% of their offers get caps and the result loads.
func TestDeriveExamples(t *testing.T) {
	src := filepath.Join("..", "..", "examples", "checkout")
	orig, err := rulefiles.Load(src)
	if err != nil {
		t.Skipf("examples/checkout does not load (yet): %v", err)
	}
	dst := t.TempDir()
	got, err := DeriveCapped(src, dst, CapsOptions{Share: 0.1, Total: 1e9, Budget: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	want := (len(orig.Offers) + 9) / 10
	if len(got) != want {
		t.Errorf("capped %d of %d offers, want %d", len(got), len(orig.Offers), want)
	}
	rs, err := rulefiles.Load(dst)
	if err != nil {
		t.Fatalf("the derived example rules do not load: %v", err)
	}
	if len(rs.Offers) != len(orig.Offers) {
		t.Errorf("%d offers after deriving, %d before", len(rs.Offers), len(orig.Offers))
	}
	for _, id := range got {
		if c := offerByID(t, rs, id).Caps; c.Total != 1e9 {
			t.Errorf("%s: caps %+v", id, c)
		}
	}
}

// With Hold, the added caps hold their grants (the scenario c and d
// variant that measures what holds cost on the decision path).
func TestDeriveHeld(t *testing.T) {
	dst := t.TempDir()
	got, err := DeriveCapped("testdata/rules", dst, CapsOptions{Share: 0.5, Total: 1000000, Budget: 250000.5, Hold: "30m"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulefiles.Load(dst)
	if err != nil {
		t.Fatalf("the derived rules do not load: %v", err)
	}
	for _, id := range got {
		if c := offerByID(t, rs, id).Caps; c.Hold != 30*time.Minute {
			t.Errorf("%s: hold %v, want 30m", id, c.Hold)
		}
	}
	if c := offerByID(t, rs, "capped_discount").Caps; c.Hold != 0 {
		t.Errorf("capped_discount got a hold: %+v", c)
	}
}
