package loadgen

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseCommandStats reads the calls of every command from the output of
// Redis's INFO commandstats, lines like
//
//	cmdstat_hgetall:calls=1204,usec=2001,usec_per_call=1.66,rejected_calls=0,failed_calls=0
//
// and returns them by command name ("hgetall", "client|list").
func ParseCommandStats(info string) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok {
			return nil, fmt.Errorf("loadgen: commandstats line %q: no ':'", line)
		}
		found := false
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k != "calls" {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("loadgen: commandstats line %q: calls: %w", line, err)
			}
			out[name] = n
			found = true
		}
		if !found {
			return nil, fmt.Errorf("loadgen: commandstats line %q: no calls=", line)
		}
	}
	return out, sc.Err()
}

// CommandDelta is after minus before, per command, leaving out the commands
// that did not change and those named in ignore (the harness's own INFO).
func CommandDelta(before, after map[string]uint64, ignore ...string) map[string]uint64 {
	skip := map[string]bool{}
	for _, s := range ignore {
		skip[s] = true
	}
	out := map[string]uint64{}
	for k, a := range after {
		if skip[k] {
			continue
		}
		if d := a - before[k]; a > before[k] && d > 0 {
			out[k] = d
		}
	}
	return out
}

// Sum is the total of a command count map.
func Sum(m map[string]uint64) uint64 {
	var s uint64
	for _, v := range m {
		s += v
	}
	return s
}

// ParseInfoCPU reads the Redis server's own CPU time from the output of
// INFO cpu: used_cpu_user and used_cpu_sys, in seconds with microseconds
// (the server process's getrusage, all its threads). It is the server's
// count whatever machine or container it runs in, unlike its process_id,
// which names a process of this machine only when Redis shares its process
// ids (in a container it is the container's own, often 1).
func ParseInfoCPU(info string) (CPUTime, error) {
	var c CPUTime
	var user, sys bool
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s < 0 {
			return CPUTime{}, fmt.Errorf("loadgen: INFO cpu %s: %q is not a number of seconds", k, v)
		}
		d := time.Duration(s*1e6+0.5) * time.Microsecond
		if k == "used_cpu_user" {
			c.User, user = d, true
		} else {
			c.System, sys = d, true
		}
	}
	if !user || !sys {
		return CPUTime{}, fmt.Errorf("loadgen: INFO cpu has no used_cpu_user or used_cpu_sys (want the output of INFO cpu)")
	}
	return c, sc.Err()
}
