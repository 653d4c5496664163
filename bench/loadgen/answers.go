package loadgen

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Answers tallies what /v1/decide answers held: how many actions, which
// offers and which degraded parts. Safe for concurrent use (as
// Client.Inspect).
type Answers struct {
	mu       sync.Mutex
	n        int
	bad      int
	actions  int
	offers   map[string]int
	degraded map[string]int
	anyDeg   int
}

// NewAnswers returns an empty tally.
func NewAnswers() *Answers {
	return &Answers{offers: map[string]int{}, degraded: map[string]int{}}
}

// Add tallies one answer body.
func (a *Answers) Add(body []byte) {
	var d struct {
		Actions []struct {
			OfferID string `json:"offer_id"`
		} `json:"actions"`
		Degraded []string `json:"degraded"`
	}
	err := json.Unmarshal(body, &d)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	if err != nil {
		a.bad++
		return
	}
	a.actions += len(d.Actions)
	for _, x := range d.Actions {
		a.offers[x.OfferID]++
	}
	if len(d.Degraded) > 0 {
		a.anyDeg++
	}
	for _, x := range d.Degraded {
		a.degraded[x]++
	}
}

// String summarises the tally in a line, e.g. "400 answers: 1.35 actions
// each; degraded 44% (ledger_unavailable 44%); top offers: ...".
func (a *Answers) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		return "no answers"
	}
	pct := func(k int) string { return fmt.Sprintf("%.0f%%", 100*float64(k)/float64(a.n)) }
	var b strings.Builder
	fmt.Fprintf(&b, "%d answers: %.2f actions each", a.n, float64(a.actions)/float64(a.n))
	if a.bad > 0 {
		fmt.Fprintf(&b, ", %d not JSON", a.bad)
	}
	fmt.Fprintf(&b, "; degraded %s", pct(a.anyDeg))
	if len(a.degraded) > 0 {
		b.WriteString(" (" + top(a.degraded, 5, pct) + ")")
	}
	if len(a.offers) > 0 {
		b.WriteString("; offers granted " + top(a.offers, 6, pct))
	}
	return b.String()
}

func top(m map[string]int, n int, pct func(int) string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > n {
		keys = keys[:n]
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + pct(m[k])
	}
	return strings.Join(parts, ", ")
}
