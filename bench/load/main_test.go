package main

import (
	"testing"
	"time"
)

func TestCheckLoopbackURL(t *testing.T) {
	ok := []string{"redis://127.0.0.1:6379/9", "nats://127.0.0.1:4222", "redis://localhost", "nats://[::1]:4222"}
	bad := []string{"redis://10.1.2.3:6379", "nats://nats.example.com:4222", "redis://0.0.0.0:6379"}
	for _, u := range ok {
		if err := checkLoopbackURL(u); err != nil {
			t.Errorf("checkLoopbackURL(%q) = %v", u, err)
		}
	}
	for _, u := range bad {
		if err := checkLoopbackURL(u); err == nil {
			t.Errorf("checkLoopbackURL(%q) = nil, want an error", u)
		}
	}
}

func TestPerReplica(t *testing.T) {
	tests := []struct{ conns, replicas, want int }{{32, 1, 32}, {32, 2, 16}, {33, 2, 17}, {1, 2, 1}}
	for _, tt := range tests {
		if got := perReplica(tt.conns, tt.replicas); got != tt.want {
			t.Errorf("perReplica(%d, %d) = %d, want %d", tt.conns, tt.replicas, got, tt.want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	good := config{scenarios: "a,b,c,d,nocaps", rounds: 3, duration: 10 * time.Second, openDuration: 10 * time.Second,
		openShare: 0.5, conns: 32, openWorkers: 256, profiles: 10, profilesReal: 10,
		redisURL: "redis://127.0.0.1:6379/9", natsURL: "nats://127.0.0.1:4222"}
	if err := good.check(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	bad := []func(c *config){
		func(c *config) { c.scenarios = "a,z" },
		func(c *config) { c.rounds = 0 },
		func(c *config) { c.duration = time.Hour },
		func(c *config) { c.openShare = 1.5 },
		func(c *config) { c.redisURL = "redis://192.168.0.10:6379" },
		func(c *config) { c.natsURL = "nats://demo.nats.io:4222" },
	}
	for i, mutate := range bad {
		c := good
		mutate(&c)
		if err := c.check(); err == nil {
			t.Errorf("bad config %d accepted: %+v", i, c)
		}
	}
}
