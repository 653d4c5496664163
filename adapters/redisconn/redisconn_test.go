package redisconn

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestOpenForms(t *testing.T) {
	tests := []struct {
		url     string
		kind    string // single, cluster, failover
		addrs   []string
		wantErr string
	}{
		{url: "redis://127.0.0.1:6379/2", kind: "single", addrs: []string{"127.0.0.1:6379"}},
		{url: "rediss://u:p@redis.example:6380", kind: "single", addrs: []string{"redis.example:6380"}},
		{url: "redis+cluster://a:7000,b:7001,c", kind: "cluster", addrs: []string{"a:7000", "b:7001", "c:6379"}},
		{url: "redis://a:7000,b:7001", kind: "cluster", addrs: []string{"a:7000", "b:7001"}},
		{url: "rediss+cluster://u:p@a:7000", kind: "cluster", addrs: []string{"a:7000"}},
		{url: "redis+sentinel://s1:26379,s2/mymaster/1", kind: "failover", addrs: []string{"s1:26379", "s2:26379"}},
		{url: "redis+sentinel://s1:26379", wantErr: "MASTER_NAME"},
		{url: "localhost:6379", wantErr: "scheme"},
		{url: "http://x", wantErr: "unknown scheme"},
		{url: "redis://u:secret@h:1/notadb", wantErr: "redis URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := Open(tt.url, 0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			switch cc := c.(type) {
			case *redis.ClusterClient:
				o := cc.Options()
				if tt.kind != "cluster" || strings.Join(o.Addrs, ",") != strings.Join(tt.addrs, ",") {
					t.Errorf("cluster with %v, want %s %v", o.Addrs, tt.kind, tt.addrs)
				}
				if o.ReadTimeout != DefaultTimeout || !o.ContextTimeoutEnabled || o.MaxRetries > 0 || o.DialerRetries != 1 {
					t.Errorf("options %+v", o)
				}
			case *redis.Client:
				o := cc.Options()
				if tt.kind == "single" && o.Addr != tt.addrs[0] {
					t.Errorf("addr %s, want %s", o.Addr, tt.addrs[0])
				}
				if tt.kind == "cluster" {
					t.Errorf("single client, want cluster")
				}
				if o.ReadTimeout != DefaultTimeout || o.PoolTimeout != DefaultTimeout || !o.ContextTimeoutEnabled || o.MaxRetries > 0 {
					t.Errorf("options %+v", o)
				}
			default:
				t.Fatalf("client %T", c)
			}
		})
	}
}

func TestEmbedded(t *testing.T) {
	c, stop, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("%q %v", v, err)
	}
}

// TestDownIsQuick: nothing listens: every call fails at once, without retries.
func TestDownIsQuick(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := Open("redis://"+addr, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 50; i++ {
		start := time.Now()
		if err := c.Ping(context.Background()).Err(); err == nil {
			t.Fatal("ping of a closed port succeeded")
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("call %d took %v", i, d)
		}
	}
}

// TestSlowIsBounded: a server that accepts and never answers: the call ends
// at the read timeout, and sooner with a shorter context deadline.
func TestSlowIsBounded(t *testing.T) {
	c, err := Open("redis://"+silentServer(t), 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("no error from a silent server")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("took %v with a 30ms timeout", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("no error from a silent server")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("took %v with a 5ms deadline", d)
	}
}

// silentServer listens on a loopback port and accepts connections that it
// never answers, until the test ends; it returns the address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; conn.Close() }()
		}
	}()
	return ln.Addr().String()
}
