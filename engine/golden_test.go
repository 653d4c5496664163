package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/memledger"
	"github.com/arbiterhq/arbiter/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// firstID returns the first id "<prefix>N" with the wanted holdout and
// depth-experiment buckets, so that the golden cases are stable.
func firstID(t *testing.T, prefix string, holdout, deep bool) string {
	for i := 0; i < 100000; i++ {
		id := prefix + strconv.Itoa(i)
		if (engine.Bucket("holdout", id) < 500) == holdout && (engine.Bucket("depth", id) >= 5000) == deep {
			return id
		}
	}
	t.Fatal("no id")
	return ""
}

// TestExplainGolden compares whole decisions with their explanations, in
// their JSON form (wire.AppendDecision, indented), to
// testdata/explain/*.golden.json (go test ./engine -run Golden -update
// rewrites them). It is an external test because wire imports the engine.
func TestExplainGolden(t *testing.T) {
	rs := engine.LoadDir(t, "testdata/explain/rules")
	lastOrder := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	vip := map[string]any{"ltv": 1500.0, "orders": 7, "first_name": "Ada", "last_order_at": lastOrder}
	ny, _ := time.LoadLocation("America/New_York")
	shoes := engine.CartOf("USD", "SHOE-1", "shoes", 60.25, 2, "SOCK-3", "accessories", 4.50, 1, "SHOE-2", "shoes", 45.0, 1)
	cases := []struct {
		name  string
		id    string
		attrs map[string]any
		req   engine.Request
	}{
		{"vip_control", firstID(t, "v", false, false), vip, engine.Request{Placement: "checkout", Cart: shoes}},
		{"vip_deep", firstID(t, "v", false, true), vip, engine.Request{Placement: "checkout", Cart: shoes}},
		{"holdout", firstID(t, "h", true, false), vip, engine.Request{Placement: "checkout", Cart: shoes}},
		{"at_risk_flash_mobile", firstID(t, "r", false, false), map[string]any{"churn_risk": 0.8},
			engine.Request{Placement: "cart", Cart: shoes, Context: map[string]any{"device": "mobile"},
				Now: time.Date(2026, 11, 28, 19, 0, 0, 0, ny)}},
		{"anonymous_fallback", "", nil, engine.Request{Placement: "home", Context: map[string]any{"device": "mobile"}}},
		{"jpy", firstID(t, "j", false, false), vip, engine.Request{Placement: "checkout", Cart: engine.CartOf("JPY", "SHOE-1", "shoes", 9800.0, 3, "GC", "gift_cards", 5000.0, 1)}},
		{"bhd", firstID(t, "b", false, false), map[string]any{"churn_risk": 0.55}, engine.Request{Placement: "checkout", Cart: engine.CartOf("BHD", "A", "home", 33.335, 3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			req.DecisionID = "dcs_" + c.name
			req.CustomerID = c.id
			req.Explain = true
			if req.Now.IsZero() {
				req.Now = engine.TestNow
			}
			d, err := engine.New(engine.Options{Ledger: memledger.New()}).Decide(context.Background(), rs, engine.ProfileOf(rs, c.id, c.attrs), &req)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, wire.AppendDecision(nil, d), "", "  "); err != nil {
				t.Fatal(err)
			}
			got := append(buf.Bytes(), '\n')
			path := filepath.Join("testdata", "explain", c.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file:\n%s", path, got)
			}
		})
	}
}
