package ledger

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestClaimOfADecisionThatNeverAnswersLapses: a decision that claimed an
// Idempotency-Key and never stored its answer (its server was killed
// between the ledger call and the answer, or its undo could not reach
// Redis) holds the key for ClaimLease, not for the key's whole TTL: a
// retry is decided afresh once the lease is over. Before, the key stayed
// "pending" for --idempotency-ttl (an hour by default), and every retry
// of the checkout was answered 409 "still being decided: retry in a
// moment". A stored answer keeps the key for its whole TTL.
func TestClaimOfADecisionThatNeverAnswersLapses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	ctx := context.Background()
	for _, mode := range []Mode{ModeScript, ModeSplit} {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			prefix := redistest.UniquePrefix(t)
			const lease = 300 * time.Millisecond
			l := NewWithOptions(c, Options{Prefix: prefix, Mode: mode, ClaimLease: lease})
			body := sha256.Sum256([]byte("the checkout's body"))
			n := 0
			reserve := func() (*engine.Plan, []engine.Result) {
				t.Helper()
				n++
				p := &engine.Plan{Now: time.Now(), Ref: fmt.Sprintf("%026d", n), CustomerID: "c1", Currency: "USD", Limit: 1, Guardrail: 1 << 40,
					Claim: &engine.Claim{Key: "checkout-1", Body: body, TTL: time.Hour},
					Items: []engine.PlanItem{{OfferID: "first100", Total: 100}}}
				res, err := l.Reserve(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				l.Wait()
				return p, res
			}
			first, res := reserve()
			if first.Claim.State != engine.ClaimNew || res[0] != engine.Granted {
				t.Fatalf("the first decision: %v %v", first.Claim.State, res)
			}
			// Its server dies: no answer is stored.
			if p, _ := reserve(); p.Claim.State != engine.ClaimPending {
				t.Fatalf("a retry at once found the key %v, want pending", p.Claim.State)
			}
			start := time.Now()
			var retry *engine.Plan
			for {
				p, res := reserve()
				if p.Claim.State == engine.ClaimNew {
					if res[0] != engine.Granted {
						t.Fatalf("the retry decided afresh: %v", res)
					}
					retry = p
					break
				}
				if time.Since(start) > lease+5*time.Second {
					t.Fatalf("the key is still %v %v after the first decision's lease of %v: its retries are refused for the key's TTL", p.Claim.State, time.Since(start), lease)
				}
				time.Sleep(20 * time.Millisecond) // polling with a deadline
			}
			if err := l.StoreAnswer(ctx, retry.Claim, []byte(`{"answer":1}`)); err != nil {
				t.Fatal(err)
			}
			if ttl := c.PTTL(ctx, ClaimKey(prefix, "checkout-1")).Val(); ttl < 59*time.Minute {
				t.Errorf("an answered key lives %v more, want its TTL (1h)", ttl)
			}
			if p, _ := reserve(); p.Claim.State != engine.ClaimReplay || string(p.Claim.Answer) != `{"answer":1}` {
				t.Errorf("after the answer: %v %q, want it replayed", p.Claim.State, p.Claim.Answer)
			}
			if n := c.Get(ctx, TotalKey(prefix, "first100")).Val(); n != "2" {
				t.Errorf("%s units counted, want 2 (the dead decision's and the retry's)", n)
			}
			redistest.DeletePrefix(t, c, prefix)
		})
	}
}
