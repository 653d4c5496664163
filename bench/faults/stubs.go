package main

import (
	"context"
	"fmt"
	"time"
)

func stub(name string) scenario {
	return scenario{name: name, goal: "todo", bound: time.Minute, shortBound: time.Minute,
		run: func(ctx context.Context, e *env, ps *procs, r *result) error {
			return fmt.Errorf("%w: needs the scenario", errNotRun)
		}}
}
func redisClusterScenario() scenario { return stub("redis-cluster") }
