package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/events/eventstest"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
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
	countEachDecisionOnce(t, []*servedBinary{sb}, 300)
}

// TestFleetCountsEachDecisionOnce: two replicas on one NATS and one Redis
// (the real ones with ARBITER_TEST_NATS_URL and ARBITER_TEST_REDIS_URL,
// else a NATS server and a miniredis of the test's own), each taking half
// the decisions: the consumers they share (the decisions' read headers
// only) count each decision once, whichever replica made it and whichever
// replica reads it.
func TestFleetCountsEachDecisionOnce(t *testing.T) {
	rules, err := filepath.Abs("../../examples/checkout")
	if err != nil {
		t.Fatal(err)
	}
	redisURL, keyPrefix := os.Getenv(redistest.EnvURL), redistest.UniquePrefix(t)
	if redisURL == "" {
		_, srv, stop, err := redisconn.EmbeddedWith(redisconn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		redisURL = "redis://" + srv.Addr()
	} else {
		c, err := redisconn.Open(redisURL, redistest.TestTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			redistest.DeletePrefix(t, c, keyPrefix)
			c.Close()
		})
	}
	natsURL, _ := eventstest.URL(t)
	subjects := eventstest.Prefix(t, natsURL, "e2efleet")
	args := []string{"--rules", rules, "--redis", redisURL, "--nats", natsURL, "--key-prefix", keyPrefix, "--subject-prefix", subjects}
	a := startServe(t, args...)
	b := startServe(t, args...)
	countEachDecisionOnce(t, []*servedBinary{a, b}, 300)
}

// countEachDecisionOnce asks the replicas n decisions in turn and checks
// that GET /v1/experiments (of each replica) shows, for each variant and
// for the holdout, exactly the decisions whose answers named it. A decision
// counted twice, or not at all, fails.
func countEachDecisionOnce(t *testing.T, replicas []*servedBinary, n int) {
	t.Helper()
	want := map[string]float64{}
	for i := range n {
		body := fmt.Sprintf(`{"customer_id": "c-%04d", "placement": "checkout", "cart": {"currency": "USD", "items": [{"sku": "SHOE-1", "price": 60, "quantity": 2}]}}`, i)
		ans := postJSON(t, replicas[i%len(replicas)].base+"/v1/decide", body)
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
	for _, sb := range replicas {
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
		poll(t, "every decision counted", 30*time.Second, func() bool { return read() >= float64(n) })
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s (read from %s): %v decisions counted, want %v", k, sb.addr, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s (read from %s): %v decisions counted, want none", k, sb.addr, v)
			}
		}
	}
}
