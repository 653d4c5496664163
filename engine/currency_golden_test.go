package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/wire"
)

// TestCurrencyExplainGolden compares whole decisions of a shop that sells
// in several currencies (testdata/currency/rules) with
// testdata/currency/*.golden.json: the same cart in USD, in EUR (entries
// and rates), in JPY (rates only), in GBP (an entry, no rate: the budgeted
// offer and the converted ones are left out with the reason currency) and
// in CHF (nothing: cart.total_base is an error, reason currency). go test
// ./engine -run CurrencyExplainGolden -update rewrites them.
func TestCurrencyExplainGolden(t *testing.T) {
	rs := engine.LoadDir(t, "testdata/currency/rules")
	cases := []struct {
		name string
		cart engine.Cart
	}{
		{"usd", engine.CartOf("USD", "COAT-1", "outerwear", 180.0, 1, "SCARF-2", "accessories", 25.0, 1)},
		{"eur", engine.CartOf("EUR", "COAT-1", "outerwear", 165.0, 1, "SCARF-2", "accessories", 23.0, 1)},
		{"jpy", engine.CartOf("JPY", "COAT-1", "outerwear", 26900.0, 1, "SCARF-2", "accessories", 3700.0, 1)},
		{"gbp_no_rate", engine.CartOf("GBP", "COAT-1", "outerwear", 140.0, 1, "SCARF-2", "accessories", 20.0, 1)},
		{"chf_no_rate", engine.CartOf("CHF", "COAT-1", "outerwear", 160.0, 1, "SCARF-2", "accessories", 22.0, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := engine.Request{DecisionID: "dcs_" + c.name, CustomerID: "c-7", Placement: "checkout", Cart: c.cart,
				Explain: true, Now: engine.TestNow}
			d, err := engine.New(engine.Options{Ledger: engine.NewMemoryLedger()}).Decide(context.Background(), rs,
				engine.ProfileOf(rs, "c-7", map[string]any{"first_name": "Ada"}), &req)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, wire.AppendDecision(nil, d), "", "  "); err != nil {
				t.Fatal(err)
			}
			got := append(buf.Bytes(), '\n')
			path := filepath.Join("testdata", "currency", c.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -run CurrencyExplainGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file:\n%s", path, got)
			}
		})
	}
}
