package rules

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"
)

// activeUntil returns the end of the schedule's last active time before
// its End: End itself when it is active up to its end (or has no days or
// hours). ok is false when it has no start or end, or is never active in
// the eight days before its end that are in its window (with days and
// hours, a schedule inactive for a whole week is never active).
func (sc *Schedule) activeUntil() (time.Time, bool) {
	if sc == nil || sc.Start.IsZero() || sc.End.IsZero() {
		return time.Time{}, false
	}
	last := sc.End.Add(-time.Nanosecond)
	if !sc.HasDays && !sc.HasHours || sc.Active(last) {
		return sc.End, true
	}
	// Days and hours change at whole minutes of the schedule's local time,
	// which are whole minutes of UTC (every zone's offset is whole minutes
	// today): step back one minute at a time.
	for m, i := last.Truncate(time.Minute), 0; i < 8*24*60; i++ {
		m = m.Add(-time.Minute)
		at := m
		if at.Before(sc.Start) {
			if !at.Add(time.Minute).After(sc.Start) {
				break
			}
			at = sc.Start
		}
		if sc.Active(at) {
			return m.Add(time.Minute), true
		}
	}
	return time.Time{}, false
}

// pacingReachWarning warns when a paced offer's schedule ends long after
// its days and hours last let it be offered: pacing's share grows with
// the wall clock from start to end, so the share of the time after the
// last active minute can never be granted (with `days: [fri, sat, sun]`
// and an end on the Wednesday after, two fifths of the total and budget).
// n is the offer's schedule node.
func (l *loader) pacingReachWarning(what string, sc *Schedule, caps Caps, n *yaml.Node) {
	until, ok := sc.activeUntil()
	window := sc.End.Sub(sc.Start)
	if !ok || window <= 0 {
		return
	}
	lost := float64(sc.End.Sub(until)) / float64(window)
	if lost < 0.01 {
		return
	}
	at := n
	if d := l.deref(n); d != nil && d.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(d.Content); i += 2 {
			if d.Content[i].Value == "end" {
				at = d.Content[i+1]
			}
		}
	}
	loc := sc.Location
	if loc == nil {
		loc = time.UTC
	}
	p := l.pos(l.deref(at))
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Col < 1 {
		p.Col = 1
	}
	capped := "total and budget"
	switch {
	case caps.Budget == 0:
		capped = "total"
	case caps.Total == 0:
		capped = "budget"
	}
	l.warnings = append(l.warnings, &Error{Pos: p,
		Msg: fmt.Sprintf("%s: paced from its start to its end, but its days and hours let it be offered only until %s: "+
			"pacing never allows more than %d%% of its %s to be granted",
			what, until.In(loc).Format(time.RFC3339), int(math.Ceil(100*(1-lost))), capped),
		Hint: fmt.Sprintf("end the schedule when its last hours end (end: %s), or remove `pacing`", until.In(loc).Format(time.RFC3339))})
}
