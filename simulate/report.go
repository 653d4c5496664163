package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report as a table: per strategy, decisions,
// successes, value, value per decision and regret, for the whole run and
// its last 20%.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d decisions, %d customers, seed %d, successes counted %d decisions after their trial\n\n",
		r.Decisions, r.Customers, r.Seed, r.Delay)
	fmt.Fprintf(&b, "%-9s %-61s %s\n", "", "whole run", "last 20%")
	fmt.Fprintf(&b, "%-9s %9s %9s %12s %14s %12s %14s %12s\n", "strategy", "decisions", "successes", "value", "value/decision", "regret",
		"value/decision", "regret")
	for _, name := range Strategies() {
		s := r.Strategies[name]
		if s == nil {
			continue
		}
		fmt.Fprintf(&b, "%-9s %9d %9d %12.2f %14.2f %12.2f %14.2f %12.2f\n", name, s.Decisions, s.Successes, s.Value,
			s.ValuePerDecision, s.Regret, s.LastValuePerDecision, s.LastRegret)
	}
	l, o, st := r.Strategies[Learning], r.Strategies[Oracle], r.Strategies[Static]
	if l != nil && o != nil && st != nil {
		b.WriteString("\n")
		// the ratios of the values, not of the table's figures rounded to cents
		if ov := o.lastPerDecision(); ov > 0 {
			fmt.Fprintf(&b, "learning's value per decision in the last 20%%: %.1f%% of the oracle's (static: %.1f%%)\n",
				100*l.lastPerDecision()/ov, 100*st.lastPerDecision()/ov)
		}
		if st.regretRaw > 0 {
			fmt.Fprintf(&b, "learning's regret: %.1f%% of static's\n", 100*l.regretRaw/st.regretRaw)
		}
	}
	if len(r.Notes) > 0 && !strings.HasSuffix(b.String(), "\n\n") {
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object, {"strategies": {"static":
// {...}, "learning": {...}, "oracle": {...}}}, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// MarshalJSON writes the strategies in the order they are reported
// (static, learning, oracle) rather than sorted.
func (r *Report) MarshalJSON() ([]byte, error) {
	b := []byte(`{"strategies":{`)
	n := 0
	for _, name := range Strategies() {
		st, ok := r.Strategies[name]
		if !ok {
			continue
		}
		v, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		b = append(b, v...)
	}
	return append(b, "}}"...), nil
}

// lastPerDecision is the value per decision of the last 20%, unrounded (0
// without decisions there).
func (s *Stats) lastPerDecision() float64 {
	if s.lastDecisions == 0 {
		return 0
	}
	return float64(s.lastMinor) / 100 / float64(s.lastDecisions)
}
