package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Machine describes where a report was measured.
type Machine struct {
	Cores     int    `json:"cores"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	Commit    string `json:"commit"`
	OS        string `json:"os"`
}

// CPUModel returns the first "model name" of /proc/cpuinfo's content.
func CPUModel(cpuinfo string) string {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// ReadCPUModel reads the CPU model of this machine (Linux), or "unknown".
func ReadCPUModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	return CPUModel(string(data))
}

// Round is one alternation: Arbiter, then the ceiling, closed loop.
type Round struct {
	Arbiter Result  `json:"arbiter"`
	Ceiling Result  `json:"ceiling"`
	Ratio   float64 `json:"ratio"`
}

// Scenario is everything measured for one scenario.
type Scenario struct {
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Replicas    int      `json:"replicas"`
	Redis       string   `json:"redis"`
	NATS        string   `json:"nats"`
	Ruleset     string   `json:"ruleset"`
	CappedOffer []string `json:"capped_offers,omitempty"`
	Profiles    int      `json:"profiles"`
	Conns       int      `json:"conns"`

	Rounds []Round `json:"rounds"`
	// Saturation is the median closed-loop throughput of Arbiter; Ceiling
	// that of the ceiling; Ratio the median of the per-round ratios.
	Saturation float64 `json:"saturation"`
	Ceiling    float64 `json:"ceiling"`
	Ratio      float64 `json:"ratio"`

	// Open-loop runs at half of Saturation: Arbiter, then the ceiling at
	// the same rate.
	Open        Result `json:"open"`
	CeilingOpen Result `json:"ceiling_open"`
	// OpenGC is what Arbiter's collector did during its open loop (from
	// the servers' gctrace), nil when it could not be read.
	OpenGC *GCDuring `json:"open_gc,omitempty"`

	// CPU per request of the server processes (all replicas) and of the
	// ceiling processes, in the closed-loop runs, in microseconds.
	CPUPerDecisionUS float64 `json:"cpu_per_decision_us"`
	CeilingCPUUS     float64 `json:"ceiling_cpu_per_request_us"`
	HarnessCPUUS     float64 `json:"harness_cpu_per_request_us"`

	// RedisCPUUS is the Redis server's CPU per decision (b and d), -1 when
	// not measured.
	RedisCPUUS float64 `json:"redis_cpu_per_decision_us"`
	// Failed counts Arbiter's answers other than 200 and transport errors
	// in the measured runs (closed and open loop).
	Failed int64 `json:"failed"`
	// CeilingFailed counts the same for the ceiling: left out of its
	// throughput and latency, they flatter Arbiter's ratio.
	CeilingFailed int64 `json:"ceiling_failed"`
	// RedisCallsPerDecision is -1 when not measured (embedded Redis).
	RedisCallsPerDecision float64           `json:"redis_calls_per_decision"`
	RedisCommands         map[string]uint64 `json:"redis_commands,omitempty"`

	// From the servers' /metrics, over the whole scenario.
	Decisions       float64 `json:"decisions"`
	Degraded        float64 `json:"degraded"`
	EventsPublished float64 `json:"events_published"`
	EventsDropped   float64 `json:"events_dropped"`
	EventsBuffered  float64 `json:"events_buffered_at_end"`

	RespBytes float64  `json:"resp_bytes"`
	Notes     []string `json:"notes,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// CountFailures sets Failed and CeilingFailed from the measured runs
// (closed-loop rounds and open loop) and notes each side's failures by
// status or transport error.
func (s *Scenario) CountFailures() {
	count := func(who, why string, rs ...Result) int64 {
		errs := map[string]int64{}
		var n int64
		for _, r := range rs {
			for k, v := range r.Errors {
				errs[k] += v
				n += v
			}
		}
		if n > 0 {
			s.Notes = append(s.Notes, fmt.Sprintf("%s failed requests (by status or transport error): %v%s", who, errs, why))
		}
		return n
	}
	var arb, ceil []Result
	for _, r := range s.Rounds {
		arb, ceil = append(arb, r.Arbiter), append(ceil, r.Ceiling)
	}
	s.Failed = count("Arbiter's", "", append(arb, s.Open)...)
	s.CeilingFailed = count("the ceiling's", "; left out of its throughput and latency, they make Arbiter's ratio read higher",
		append(ceil, s.CeilingOpen)...)
}

// Report is a whole run of the harness.
type Report struct {
	Date      time.Time  `json:"date"`
	Machine   Machine    `json:"machine"`
	Settings  string     `json:"settings"`
	Scenarios []Scenario `json:"scenarios"`
}

func us(v int64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f ms", float64(v)/1000)
	}
	if v >= 1000 {
		return fmt.Sprintf("%.2f ms", float64(v)/1000)
	}
	return fmt.Sprintf("%d µs", v)
}

// WriteMarkdown writes the report as Markdown tables (for BENCHMARKS.md).
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "Measured %s on %d cores (%s), %s, %s, commit %s.\n\n",
		r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Machine.Cores, r.Machine.CPUModel,
		r.Machine.GoVersion, r.Machine.OS, r.Machine.Commit)
	fmt.Fprintf(b, "Settings: %s\n\n", r.Settings)
	b.WriteString("| scenario | saturation (decisions/s) | ceiling (req/s) | ratio | open-loop rate | p50 | p90 | p99 | p99.9 | max | CPU/decision | Redis calls/decision | Redis CPU/decision | events published / dropped | degraded | failed |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		if s.Error != "" {
			fmt.Fprintf(b, "| %s | failed: %s | | | | | | | | | | | | | | |\n", s.Name, mdEscape(s.Error))
			continue
		}
		redis := "n/a (embedded)"
		if s.RedisCallsPerDecision >= 0 {
			redis = fmt.Sprintf("%.2f", s.RedisCallsPerDecision)
		}
		rcpu := "n/a"
		if s.RedisCPUUS >= 0 {
			rcpu = fmt.Sprintf("%.0f µs", s.RedisCPUUS)
		}
		deg := "0%"
		if s.Decisions > 0 {
			deg = fmt.Sprintf("%.1f%%", 100*s.Degraded/s.Decisions)
		}
		o := s.Open.Latency
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.2f | %.0f/s | %s | %s | %s | %s | %s | %.0f µs | %s | %s | %.0f / %.0f | %s | %d |\n",
			s.Name+" "+s.Title, s.Saturation, s.Ceiling, s.Ratio, s.Open.Rate,
			us(o.P50), us(o.P90), us(o.P99), us(o.P999), us(o.Max),
			s.CPUPerDecisionUS, redis, rcpu, s.EventsPublished, s.EventsDropped, deg, s.Failed)
	}
	b.WriteString("\nThe ceiling at the same open-loop rates (a fixed answer of the same size, same client, same machine):\n\n")
	b.WriteString("| scenario | rate | p50 | p90 | p99 | p99.9 | max | CPU/request | answer size |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		if s.Error != "" {
			continue
		}
		o := s.CeilingOpen.Latency
		fmt.Fprintf(b, "| %s | %.0f/s | %s | %s | %s | %s | %s | %.0f µs | %.0f B |\n", s.Name, s.CeilingOpen.Rate,
			us(o.P50), us(o.P90), us(o.P99), us(o.P999), us(o.Max), s.CeilingCPUUS, s.RespBytes)
	}
	var notes []string
	for _, s := range r.Scenarios {
		for _, n := range s.Notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", s.Name, n))
		}
		if len(s.RedisCommands) > 0 {
			keys := make([]string, 0, len(s.RedisCommands))
			for k := range s.RedisCommands {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s %d", k, s.RedisCommands[k])
			}
			notes = append(notes, fmt.Sprintf("- %s: Redis commands during the closed-loop runs: %s", s.Name, strings.Join(parts, ", ")))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n\n" + strings.Join(notes, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
