package events

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterNode is an in-process nats-server of a test cluster: it can be
// shut down and started again on the same ports and store.
type clusterNode struct {
	t    testing.TB
	opts *server.Options
	srv  *server.Server
}

func (n *clusterNode) start() {
	n.t.Helper()
	srv, err := server.NewServer(n.opts)
	if err != nil {
		n.t.Fatal(err)
	}
	go srv.Start()
	n.srv = srv // shut down at the end even if it never listens
	// A node sets up JetStream (and recovers its store and Raft logs)
	// before it listens: in CI, with other packages' tests beside it, a
	// node of a new 5-node cluster was not listening after 10 s (its route
	// port, freed before, may also have been taken: see startClusterNodes).
	if !srv.ReadyForConnections(time.Minute) {
		n.t.Fatalf("nats node %s not listening on client port %d and route port %d within a minute (a port taken?)", n.opts.ServerName, n.opts.Port, n.opts.Cluster.Port)
	}
	n.opts.Port = srv.Addr().(*net.TCPAddr).Port // the same port when started again
}

func (n *clusterNode) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *clusterNode) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.opts.Port) }

// startNATSCluster starts n in-process nats-server nodes with JetStream,
// clustered on loopback, and waits until JetStream answers; it returns the
// client URLs.
func startNATSCluster(t *testing.T, n int) []string {
	var urls []string
	for _, node := range startClusterNodes(t, n) {
		urls = append(urls, node.url())
	}
	return urls
}

// startClusterNodes starts the nodes of startNATSCluster; they are shut
// down when the test ends.
func startClusterNodes(t testing.TB, n int) []*clusterNode {
	t.Helper()
	// The route ports are held until their node starts: a port freed
	// seconds before its node binds it can be taken meanwhile (other
	// packages' tests run beside these).
	ports := make([]int, n)
	held := make([]net.Listener, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i], held[i] = ln.Addr().(*net.TCPAddr).Port, ln
	}
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(p)})
	}
	var nodes []*clusterNode
	for i := 0; i < n; i++ {
		node := &clusterNode{t: t, opts: &server.Options{
			ServerName: "n" + strconv.Itoa(i),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "arbiter-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		}}
		held[i].Close()
		node.start()
		t.Cleanup(node.stop)
		nodes = append(nodes, node)
	}
	// JetStream answers once the cluster has elected its meta leader.
	nc, err := nats.Connect(nodes[0].url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	waitFor(t, 30*time.Second, "JetStream of the "+strconv.Itoa(n)+"-node cluster", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return nodes
}

// TestStreamReplicasOnCluster: on a 3-node NATS cluster, the stream is
// created with the replicas asked for (serve --stream-replicas), and an
// existing stream with another count is brought to it; without a count
// asked for, an existing stream is left as it is.
func TestStreamReplicasOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster")
	}
	urls := startNATSCluster(t, 3)
	nc, err := nats.Connect(urls[1])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	replicas := func(stream string) int {
		t.Helper()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Config.Replicas
	}

	// Created with 3.
	if err := EnsureStream(ctx, js, Options{Prefix: "fresh", Replicas: 3}, nil); err != nil {
		t.Fatal(err)
	}
	if r := replicas("FRESH"); r != 3 {
		t.Errorf("a new stream with Replicas 3 has %d", r)
	}

	// An existing R1 stream: left alone without a count asked for, brought
	// to 3 when asked.
	if err := EnsureStream(ctx, js, Options{Prefix: "old"}, nil); err != nil {
		t.Fatal(err)
	}
	if r := replicas("OLD"); r != 1 {
		t.Fatalf("the default stream has %d replicas, want 1", r)
	}
	if err := EnsureStream(ctx, js, Options{Prefix: "old"}, nil); err != nil || replicas("OLD") != 1 {
		t.Errorf("an existing stream changed without a count asked for: %v", err)
	}
	if err := EnsureStream(ctx, js, Options{Prefix: "old", Replicas: 3}, nil); err != nil {
		t.Fatalf("bringing the stream to 3 replicas: %v", err)
	}
	if r := replicas("OLD"); r != 3 {
		t.Errorf("an existing R1 stream with Replicas 3 asked for has %d replicas", r)
	}

	// More replicas than nodes: an error that says what to do.
	err = EnsureStream(ctx, js, Options{Prefix: "big", Replicas: 5}, nil)
	var re *ReplicasError
	if err == nil || !errors.As(err, &re) {
		t.Errorf("5 replicas on 3 nodes: %v, want a *ReplicasError", err)
	} else {
		t.Logf("5 replicas on 3 nodes: %v", err)
	}
}

// TestPublisherLosesNothingWhileTheLeaderMoves: on a 3-node cluster, an R3
// stream's leader is made to step down again and again while events are
// published in bursts; every event the publisher counts as published is
// in the stream, once. A clustered stream may drop a publish that asks for
// no acknowledgement while its leader changes, and the acknowledgement of
// a later event does not then cover it (the fault suite's nats-cluster
// scenario lost 2,366 of 3,602 events so, the 1 in 64 acknowledged ones
// kept).
func TestPublisherLosesNothingWhileTheLeaderMoves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster")
	}
	urls := startNATSCluster(t, 3)
	all := strings.Join(urls, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const prefix = "moves"
	// The publisher's log, at debug, is kept for a failure to explain
	// itself. This test failed once in CI (2026-12-07, on a machine that
	// stalled for most of a second at times), with 1,868 events not
	// published a minute into Close. Here it failed in about one run in
	// ten with the process stopped for 0.8 s every 2.8 s, and never
	// unstopped. The log said why: after a stall, the stream's leader
	// answered 409 "duplicate message id is in process" for one event's id
	// at every resend, for longer than two minutes. That id had been staged
	// for a proposal that was never stored; nats-server clears such an id
	// only when the duplicate window (two minutes by default) passes it
	// (nats-io/nats-server#6415 and #6486, for leader changes). The events
	// after it waited in order then; now it waits apart and they go on
	// (parkedMsg), but it still waits for the window. A window of 20 s lets
	// such an id clear well within Close's two minutes. It still covers
	// every resend of this test: the test lasts about 13 s. The lines of
	// the log that say an event was parked, and when it was stored, are
	// printed (-v).
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := NewPublisher(ctx, all, Options{Prefix: prefix, Replicas: 3, Logger: log, AckTimeout: time.Second, ReconnectWait: 100 * time.Millisecond,
		Duplicates: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	js := testJetStream(t, all)
	nc := js.Conn()
	leader := func() string { return streamLeader(ctx, js, prefix) }
	waitFor(t, 30*time.Second, "the stream's leader", func() bool { return leader() != "" })

	const bursts, per = 40, 150
	var stepdowns int
	for b := range bursts {
		for i := b * per; i < (b+1)*per; i++ {
			p.Publish(decisionEvent(i))
		}
		if b%4 == 1 {
			was := leader()
			if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+StreamName(prefix), nil, 5*time.Second); err == nil {
				stepdowns++
				waitFor(t, 30*time.Second, "a new leader", func() bool { l := leader(); return l != "" && l != was })
			}
		}
	}
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
	defer ccancel()
	closing := time.Now()
	if err := p.Close(cctx); err != nil {
		t.Fatalf("%v after %v; stats %+v; the stream's leader now %q; the publisher's log:\n%s",
			err, time.Since(closing).Round(time.Millisecond), p.Stats(), leader(), strings.Join(logs.lines(), "\n"))
	}
	if st := p.Stats(); st.Published != bursts*per || st.Dropped != 0 {
		t.Fatalf("stats %+v, want %d published, none dropped", st, bursts*per)
	}
	t.Logf("Close took %v", time.Since(closing).Round(time.Millisecond))
	for _, l := range logs.lines() { // an event parked after a 409, and when it was stored
		if strings.Contains(l, "in process") || strings.Contains(l, "parked") {
			t.Log(l)
		}
	}
	lost, dup := storedOnce(t, ctx, js, all, prefix, bursts*per)
	t.Logf("%d leader changes, %d events: %d lost, %d duplicated", stepdowns, bursts*per, lost, dup)
	if stepdowns == 0 {
		t.Fatal("the stream's leader never stepped down")
	}
	if lost != 0 || dup != 0 {
		t.Fatalf("%d of %d events lost, %d duplicated across %d leader changes", lost, bursts*per, dup, stepdowns)
	}
}

// TestClustered: the publisher asks for an acknowledgement of every event
// on a cluster's stream, R1 or R3, and batches them on a single server's.
func TestClustered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	check := func(url, prefix string, replicas int, want bool) {
		t.Helper()
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if err := EnsureStream(ctx, js, Options{Prefix: prefix, Replicas: replicas}, nil); err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(ctx, StreamName(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = js.DeleteStream(context.Background(), StreamName(prefix)) })
		if got := clustered(nc, s.CachedInfo()); got != want {
			t.Errorf("clustered on %s, %d replicas = %v, want %v (cluster %q, stream's %+v)", url, replicas, got, want, nc.ConnectedClusterName(), s.CachedInfo().Cluster)
		}
	}
	check(testNATS(t), testPrefix(t, testNATS(t)), 0, false)
	urls := startNATSCluster(t, 3)
	check(urls[0], "one", 1, true)
	check(urls[1], "three", 3, true)
}

// storedOnce reads the prefix's stream back and counts the first n
// decisionEvent ids that are not in it, and those in it more than once.
func storedOnce(t *testing.T, ctx context.Context, js jetstream.JetStream, url, prefix string, n int) (lost, dup int) {
	t.Helper()
	// Read back once the stream's leader says it holds them all (or
	// after 20 s): a reader placed on a replica still catching up would
	// see fewer.
	var held uint64
	poll(20*time.Second, func() bool {
		if st, err := js.Stream(ctx, StreamName(prefix)); err == nil {
			held = st.CachedInfo().State.Msgs
		}
		return held >= uint64(n)
	})
	msgs := readStream(t, url, prefix, prefix+".decision.>")
	got := map[string]int{}
	t.Logf("the stream holds %d events, read back %d", held, len(msgs))
	for _, m := range msgs {
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		got[ev.ID]++
	}
	for i := range n {
		switch c := got["dcs_"+strconv.Itoa(100000+i)]; {
		case c == 0:
			lost++
		case c > 1:
			dup += c - 1
		}
	}
	return lost, dup
}

// TestPublisherLosesNothingWhileTheStreamHasNoLeader: two of the three
// nodes of an R3 stream on a 5-node cluster go down while events are
// published, so the stream has no leader and nothing answers on its
// subjects while the cluster itself (3 of 5) still answers; they come
// back. Every event is in the stream once. (A publish that asks for no
// acknowledgement finds nothing and is gone; when a later one, retried by
// nats.go, found the leader back, its acknowledgement said nothing of
// those: the fault suite lost 2,364 of 3,602 events so, 2026-12-06.)
func TestPublisherLosesNothingWhileTheStreamHasNoLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 5-node NATS cluster")
	}
	nodes := startClusterNodes(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const prefix = "noleader"
	js := testJetStream(t, nodes[0].url())
	if err := EnsureStream(ctx, js, Options{Prefix: prefix, Replicas: 3}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, StreamName(prefix))
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]bool{}
	if ci := st.CachedInfo().Cluster; ci != nil {
		peers[ci.Leader] = true
		for _, r := range ci.Replicas {
			peers[r.Name] = true
		}
	}
	var down []*clusterNode // two of the stream's nodes
	var urls []string       // the others
	for _, n := range nodes {
		if peers[n.opts.ServerName] && len(down) < 2 {
			down = append(down, n)
		} else {
			urls = append(urls, n.url())
		}
	}
	if len(peers) != 3 || len(down) != 2 {
		t.Fatalf("the stream's nodes: %v", peers)
	}
	all := strings.Join(urls, ",")
	p, err := NewPublisher(ctx, all, Options{Prefix: prefix, Replicas: 3, Logger: quietLogger(), AckTimeout: time.Second, ReconnectWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const per = 500
	n := 0
	burst := func() {
		for range per {
			p.Publish(decisionEvent(n))
			n++
		}
	}
	burst()
	waitFor(t, 30*time.Second, "the first burst stored", func() bool { return p.Stats().Published == per })

	const rounds = 3
	for round := range rounds {
		for _, d := range down {
			d.stop()
		}
		// Events go while the stream has no leader: the publisher finds
		// no stream and sends them all again, and again; the nodes come
		// back after two such resends, at no particular moment of the
		// third.
		resent := p.Stats().Resent
		burst()
		waitFor(t, time.Minute, "resends while the stream has no leader", func() bool { return p.Stats().Resent >= resent+2*per })
		for _, d := range down {
			d.start()
		}
		want := uint64((round + 2) * per)
		waitFor(t, time.Minute, "the events stored once the leader is back", func() bool { return p.Stats().Published >= want })
	}
	cctx, ccancel := context.WithTimeout(ctx, time.Minute)
	defer ccancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Published != uint64(n) || st.Dropped != 0 {
		t.Fatalf("stats %+v, want %d published, none dropped", st, n)
	}
	lost, dup := storedOnce(t, ctx, js, all, prefix, n)
	t.Logf("%d events, %d times without a leader: %d lost, %d duplicated", n, rounds, lost, dup)
	if lost != 0 || dup != 0 {
		t.Fatalf("%d of %d events lost, %d duplicated", lost, n, dup)
	}
}

// Replicas starting together each ensure the stream, on 24 fresh
// prefixes: every one succeeds (nats-server 2.9.10 can answer a create
// while another's is under way "subjects overlap"; before EnsureStream
// looked the stream up then, 2 runs of this test in 250 failed there). A
// stream of another name on the same subjects is still an error that
// names them.
func TestEnsureStreamByReplicasAtOnce(t *testing.T) {
	url := testNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for round := 0; round < 24; round++ {
		prefix := testPrefix(t, url)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			js := testJetStream(t, url)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := EnsureStream(ctx, js, Options{Prefix: prefix}, nil); err != nil {
					t.Errorf("round %d, replica %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}

	prefix := testPrefix(t, url)
	js := testJetStream(t, url)
	other := "OTHER_" + StreamName(prefix)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: other, Subjects: []string{prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), other) })
	err := EnsureStream(ctx, js, Options{Prefix: prefix}, nil)
	if !isSubjectOverlap(err) || !strings.Contains(err.Error(), prefix+".>") {
		t.Fatalf("another stream on %s.>: %v, want the server's subjects overlap, naming the subjects", prefix, err)
	}
}
