package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestServeCountsEachDecisionOnce: with the embedded Redis and NATS, the
// live counters count the decisions as the stream stores them (the
// publisher hands them over; the consumer reads the outcomes only):
// GET /v1/experiments shows, for each variant and for the holdout, exactly
// the decisions whose answers named it. A decision counted by both paths,
// or by neither, fails.
func TestServeCountsEachDecisionOnce(t *testing.T) {
	rules, err := filepath.Abs("../../examples/checkout")
	if err != nil {
		t.Fatal(err)
	}
	sb := startServe(t, "--rules", rules)
	want := map[string]float64{}
	const n = 300
	for i := range n {
		body := fmt.Sprintf(`{"customer_id": "c-%04d", "placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "SHOE-1", "price": 60, "quantity": 2}]}}`, i)
		ans := postJSON(t, sb.base+"/v1/decide", body)
		exps, _ := ans["experiments"].([]any)
		for _, e := range exps {
			a := e.(map[string]any)
			want[fmt.Sprint(a["id"], "|", a["variant"])]++
		}
		if ans["holdout"] == true {
			want["holdout|held_out"]++
		} else {
			want["holdout|served"]++
		}
	}
	if len(want) < 3 {
		t.Fatalf("the decisions named %v: the test needs experiments", want)
	}
	got := map[string]float64{}
	read := func() float64 {
		clear(got)
		code, body, err := getJSON(sb.base + "/v1/experiments")
		if err != nil || code != 200 {
			return 0
		}
		exps, _ := body["experiments"].([]any)
		for _, e := range exps {
			x := e.(map[string]any)
			vs, _ := x["variants"].([]any)
			for _, v := range vs {
				vv := v.(map[string]any)
				if d, _ := vv["decisions"].(float64); d > 0 {
					got[fmt.Sprint(x["id"], "|", vv["id"])] = d
				}
			}
		}
		h, _ := body["holdout"].(map[string]any)
		for _, g := range []string{"held_out", "served"} {
			if c, ok := h[g].(map[string]any); ok {
				if d, _ := c["decisions"].(float64); d > 0 {
					got["holdout|"+g] = d
				}
			}
		}
		return got["holdout|held_out"] + got["holdout|served"]
	}
	poll(t, "every decision counted", 30*time.Second, func() bool { return read() >= n })
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v decisions counted, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %v decisions counted, want none", k, v)
		}
	}
}
