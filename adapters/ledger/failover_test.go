package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/engine"
)

// TestClusterFailoverResumes: on a Redis Cluster of three masters with a
// replica each, the master of a capped offer's slot is killed (kill -9);
// once the cluster reports its replica promoted (CLUSTER INFO and CLUSTER
// SLOTS polled), the ledger's client must follow and grant the capped
// offer again, within a few seconds, with the decision path's client
// settings (no retries). An earlier run found the client sending to the
// dead master for ever.
func TestClusterFailoverResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster of six nodes")
	}
	failoverResumes(t, 1, 0)
}

// TestClusterFailoverResumesWithLedgerReplicas: the same with
// --ledger-replicas 1 (each node's scripts and WAIT go down a connection
// of their own, outside the cluster client's routing), on masters with two
// replicas each, so that the promoted replica still has one.
func TestClusterFailoverResumesWithLedgerReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster of nine nodes")
	}
	failoverResumes(t, 2, 1)
}

func failoverResumes(t *testing.T, replicasPerMaster, ledgerReplicas int) {
	cl := redistest.StartClusterWith(t, redistest.ClusterOptions{Masters: 3, Replicas: replicasPerMaster, NodeTimeout: time.Second})
	c, err := redisconn.OpenWith(cl.URL(), redisconn.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prefix := redistest.UniquePrefix(t)
	l := NewWithOptions(c, Options{Prefix: prefix, Replicas: ledgerReplicas})
	plan := func(i int) *engine.Plan {
		return &engine.Plan{Now: time.Now(), CustomerID: "c-failover", Currency: "USD", Limit: 1, Guardrail: 1e6,
			Items: []engine.PlanItem{{OfferID: "fleet", Total: 1 << 30, Amount: 100, Budget: 1 << 40}}}
	}
	try := func(i int) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		res, err := l.Reserve(ctx, plan(i))
		return err == nil && len(res) == 1 && res[0] == engine.Granted
	}
	// A cluster just started may still be syncing its replicas (WAIT) or
	// be unknown to the client: the first grant is waited for, then every
	// one must pass.
	for ready := time.Now().Add(10 * time.Second); !try(-1); {
		if time.Now().After(ready) {
			t.Fatal("no grant within 10 s of the cluster's start")
		}
	}
	for i := 0; i < 20; i++ {
		if !try(i) {
			t.Fatalf("grant %d refused before the failover", i)
		}
	}
	victim := cl.Master(t, TotalKey(prefix, "fleet"))
	killed := time.Now()
	victim.Stop()
	failover := cl.WaitOK(t, TotalKey(prefix, "fleet"), victim, 30*time.Second)
	promoted := time.Now()
	refused := 0
	for i := 0; !try(i); i++ {
		refused++
		if time.Since(promoted) > 20*time.Second {
			t.Fatalf("capped grants still refused 20 s after the failover (%d calls refused; the cluster took %v to promote the replica)",
				refused, failover.Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond) // calls spaced as traffic would be; the loop ends on a grant
	}
	after := time.Since(promoted)
	t.Logf("--ledger-replicas %d, kill -9 of the master of {fleet}: replica promoted after %v; first capped grant %v later (%v after the kill), %d calls refused meanwhile",
		ledgerReplicas, failover.Round(time.Millisecond), after.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), refused)
	if after > 3*time.Second {
		t.Errorf("the ledger took %v after the failover to grant again; want under 3 s", after)
	}
	l.Wait()
}
