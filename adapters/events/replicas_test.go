package events

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATSCluster starts n in-process nats-server nodes with JetStream,
// clustered on loopback, and waits until JetStream answers; it returns the
// client URLs.
func startNATSCluster(t *testing.T, n int) []string {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(p)})
	}
	var urls []string
	for i := 0; i < n; i++ {
		opts := &server.Options{
			ServerName: "n" + strconv.Itoa(i),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "arbiter-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats node %d not ready", i)
		}
		urls = append(urls, srv.ClientURL())
	}
	// JetStream answers once the cluster has elected its meta leader.
	nc, err := nats.Connect(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream of the 3-node cluster not ready within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	return urls
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
