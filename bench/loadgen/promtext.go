package loadgen

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sample is one line of the Prometheus text format: a metric name, its
// labels as written ({...} or empty) and its value.
type Sample struct {
	Name   string
	Labels string
	Value  float64
}

// ParsePromText reads the samples of a Prometheus text exposition (comments
// and blank lines skipped; timestamps ignored).
func ParsePromText(text string) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var s Sample
		rest := ""
		if i := strings.IndexByte(line, '{'); i >= 0 && i < strings.IndexAny(line+" ", " \t") {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("loadgen: metrics line %d %q: '{' without '}'", n, line)
			}
			s.Name, s.Labels, rest = line[:i], line[i:j+1], line[j+1:]
		} else {
			name, r, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("loadgen: metrics line %d %q: no value", n, line)
			}
			s.Name, rest = name, r
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("loadgen: metrics line %d %q: no value", n, line)
		}
		v, err := parsePromValue(fields[0])
		if err != nil {
			return nil, fmt.Errorf("loadgen: metrics line %d %q: %w", n, line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

func parsePromValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// SumMetric adds the values of every sample named name whose labels contain
// every one of labelSubstrings (e.g. `result="degraded"`).
func SumMetric(samples []Sample, name string, labelSubstrings ...string) float64 {
	var sum float64
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for _, l := range labelSubstrings {
			if !strings.Contains(s.Labels, l) {
				continue next
			}
		}
		sum += s.Value
	}
	return sum
}
