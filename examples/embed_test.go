package examples_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/arbiterhq/arbiter/adapters/rulefiles"
	"github.com/arbiterhq/arbiter/examples"
)

func checkoutFS(t *testing.T) fs.FS {
	t.Helper()
	sub, err := fs.Sub(examples.Checkout, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestCheckoutEmbedsEveryFile checks that the embedded tree is the
// directory on disk: every rule and test file, nothing left out.
func TestCheckoutEmbedsEveryFile(t *testing.T) {
	var onDisk, embedded []string
	err := filepath.WalkDir("checkout", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel("checkout", path)
			onDisk = append(onDisk, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(checkoutFS(t), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			embedded = append(embedded, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(onDisk)
	slices.Sort(embedded)
	if !slices.Equal(onDisk, embedded) {
		t.Fatalf("embedded files %v, on disk %v", embedded, onDisk)
	}
	for _, want := range []string{"profile.yaml", "arbitration.yaml", "experiments.yaml", "tests/offers_test.yaml"} {
		if !slices.Contains(embedded, want) {
			t.Errorf("%s is not embedded", want)
		}
	}
	for _, f := range embedded {
		a, _ := fs.ReadFile(checkoutFS(t), f)
		b, _ := os.ReadFile(filepath.Join("checkout", filepath.FromSlash(f)))
		if string(a) != string(b) {
			t.Errorf("%s: embedded content differs from the file", f)
		}
	}
}

// TestCheckoutLoads compiles the embedded ruleset, as the demo does.
func TestCheckoutLoads(t *testing.T) {
	rs, err := rulefiles.LoadFS(checkoutFS(t))
	if err != nil {
		t.Fatalf("rulefiles.LoadFS(examples.Checkout/checkout): %v", err)
	}
	if len(rs.Segments) < 20 || len(rs.Offers) < 15 || len(rs.Experiments) != 2 || len(rs.Tests) < 50 {
		t.Errorf("loaded %d segments, %d offers, %d experiments, %d tests; want the whole example",
			len(rs.Segments), len(rs.Offers), len(rs.Experiments), len(rs.Tests))
	}
	a := rs.Arbitration
	if a.MaxActions != 3 || a.MaxDiscountPercent != 30 || a.Holdout != 5 || !slices.Equal(a.Fallback, []string{"newsletter_signup", "newsletter_signup_visitor"}) {
		t.Errorf("arbitration = %+v", a)
	}
	disk, err := rulefiles.Load("checkout")
	if err != nil {
		t.Fatalf("rulefiles.Load(examples/checkout): %v", err)
	}
	if disk.Version != rs.Version {
		t.Errorf("the embedded ruleset's version %s differs from the directory's %s", rs.Version, disk.Version)
	}
}
