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

// TestSentinelOptions: a Sentinel URL's options are go-redis's, as in the
// other forms (they were ignored, but for pool_size), with the master's
// user in the URL and the Sentinels' in sentinel_username and
// sentinel_password; an option go-redis does not know is an error naming it.
func TestSentinelOptions(t *testing.T) {
	tests := []struct {
		url     string
		check   func(*redis.Options) string
		wantErr string
	}{
		{url: "redis+sentinel://m:secret@s1,s2:26380/mymaster/2?client_name=checkout&dial_timeout=2s&read_timeout=750ms&pool_size=7&sentinel_password=spw",
			check: func(o *redis.Options) string {
				if o.ClientName != "checkout" || o.DialTimeout != 2*time.Second || o.ReadTimeout != 750*time.Millisecond ||
					o.PoolSize != 7 || o.DB != 2 || o.Username != "m" || o.Password != "secret" {
					return "options not taken from the URL"
				}
				if o.WriteTimeout != DefaultTimeout || !o.ContextTimeoutEnabled || o.MaxRetries > 0 || o.DialerRetries != 1 {
					return "Arbiter's limits not filled in"
				}
				return ""
			}},
		{url: "redis+sentinel://s1/mymaster", check: func(o *redis.Options) string {
			if o.ReadTimeout != DefaultTimeout || o.DB != 0 || o.Username != "" {
				return "defaults"
			}
			return ""
		}},
		{url: "redis+sentinel://u:secret@s1/mymaster?read_timout=1s", wantErr: "unexpected option: read_timout"},
		{url: "redis+sentinel://u:secret@s1/mymaster?pool_size=lots", wantErr: "pool_size"},
		{url: "redis+sentinel://u:secret@s1/mymaster?master_name=other", wantErr: "option master_name: the URL says it"},
		{url: "redis+sentinel://u:secret@s1/mymaster?password=x", wantErr: "option password"},
		{url: "redis+sentinel://s1/mymaster?replica_only=true", wantErr: "replica_only is not supported"},
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
			cc, ok := c.(*redis.Client)
			if !ok {
				t.Fatalf("client %T", c)
			}
			if msg := tt.check(cc.Options()); msg != "" {
				t.Errorf("%s: %+v", msg, cc.Options())
			}
		})
	}
}
