package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones these tests read, on any machine
)

func TestScheduleActive(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	s := &Schedule{Start: time.Date(2026, 11, 27, 0, 0, 0, 0, sh), End: time.Date(2026, 12, 2, 0, 0, 0, 0, sh),
		HasDays: true, HasHours: true, FromMinute: 18 * 60, ToMinute: 23*60 + 59, Location: sh}
	s.Days[time.Friday], s.Days[time.Saturday], s.Days[time.Sunday] = true, true, true
	cases := []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 27, 18, 0, 0, 0, sh), true},   // Friday 18:00, first minute
		{time.Date(2026, 11, 27, 23, 59, 59, 0, sh), true}, // last minute
		{time.Date(2026, 11, 27, 17, 59, 0, 0, sh), false},
		{time.Date(2026, 11, 30, 19, 0, 0, 0, sh), false}, // Monday
		{time.Date(2026, 11, 26, 19, 0, 0, 0, sh), false}, // before start
		{time.Date(2026, 12, 2, 0, 0, 0, 0, sh), false},   // end exclusive
	}
	for _, tc := range cases {
		if got := s.Active(tc.at); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.at, got, tc.want)
		}
	}
	if !(*Schedule)(nil).Active(time.Now()) {
		t.Error("no schedule is always active")
	}
}

// Days and hours are read on the wall clock of the schedule's zone, on
// the days its clocks change too: in Europe/Paris, 2026-03-29 02:00 CET
// jumps to 03:00 CEST and 2026-10-25 03:00 CEST falls back to 02:00 CET
// (both Sundays); hours "08:00-08:59" are 06:00-06:59 UTC in summer and
// 07:00-07:59 in winter, and a Sunday starts at the local midnight.
func TestScheduleActiveAcrossDST(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	morning := &Schedule{HasHours: true, FromMinute: 8 * 60, ToMinute: 8*60 + 59, Location: paris}
	sunday := &Schedule{HasDays: true, Location: paris}
	sunday.Days[time.Sunday] = true
	night := &Schedule{HasHours: true, FromMinute: 2 * 60, ToMinute: 2*60 + 59, Location: paris} // 02:00-02:59
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		sc   *Schedule
		at   string
		want bool
	}{
		{morning, "2026-03-28T07:00:00Z", true},  // Saturday 08:00 CET
		{morning, "2026-03-29T06:00:00Z", true},  // Sunday 08:00 CEST, the first summer morning
		{morning, "2026-03-29T06:59:59Z", true},  // 08:59:59 CEST
		{morning, "2026-03-29T07:00:00Z", false}, // 09:00 CEST
		{morning, "2026-03-29T05:59:59Z", false}, // 07:59:59 CEST
		{morning, "2026-10-25T06:00:00Z", false}, // Sunday 07:00 CET, the first winter morning
		{morning, "2026-10-25T07:00:00Z", true},  // 08:00 CET
		{morning, "2026-10-25T07:59:00Z", true},  // 08:59 CET
		{sunday, "2026-03-28T22:59:59Z", false},  // Saturday 23:59:59 CET
		{sunday, "2026-03-28T23:00:00Z", true},   // Sunday 00:00 CET
		{sunday, "2026-03-29T21:59:59Z", true},   // Sunday 23:59:59 CEST
		{sunday, "2026-03-29T22:00:00Z", false},  // Monday 00:00 CEST
		{sunday, "2026-10-24T22:00:00Z", true},   // Sunday 00:00 CEST
		{sunday, "2026-10-25T22:59:59Z", true},   // Sunday 23:59:59 CET (a 25-hour day)
		{sunday, "2026-10-25T23:00:00Z", false},  // Monday 00:00 CET
		{night, "2026-03-29T00:59:59Z", false},   // 01:59:59 CET: 02:00-02:59 does not exist that night
		{night, "2026-03-29T01:00:00Z", false},   // 03:00 CEST
		{night, "2026-10-25T00:00:00Z", true},    // 02:00 CEST, the first time
		{night, "2026-10-25T01:00:00Z", true},    // 02:00 CET, the second time
		{night, "2026-10-25T02:00:00Z", false},   // 03:00 CET
	}
	for _, tc := range cases {
		if got := tc.sc.Active(utc(tc.at)); got != tc.want {
			t.Errorf("%s (%s in Paris), hours %s days %v: active %v, want %v", tc.at, utc(tc.at).In(paris).Format("Mon 15:04 MST"),
				tc.sc.HoursText(), tc.sc.DayList(), got, tc.want)
		}
	}
}

// A paced offer whose days and hours stop offering it long before its end
// loads with a warning at its end: pacing's share grows with the clock up
// to the end, so the share of the time after the last active minute is
// never granted. SPEC.md's example schedule (Friday to Sunday evenings,
// ending on the Wednesday after) reaches 60%.
func TestPacingReachWarning(t *testing.T) {
	offer := func(schedule string) string {
		return "offers:\n  - id: vip_10\n    discount: {amount: 1}\n    schedule: " + schedule + "\n    caps: {budget: 5000, pacing: even}\n"
	}
	cases := []struct {
		name, schedule string
		want           string // "" for no warning; else in the message
		hint           string
	}{
		{"SPEC's example", `{start: 2026-11-27T00:00:00+08:00, end: 2026-12-02T00:00:00+08:00, days: [fri, sat, sun], hours: "18:00-23:59", timezone: Asia/Shanghai}`,
			"offered only until 2026-11-30T00:00:00+08:00: pacing never allows more than 60% of its budget to be granted", "end: 2026-11-30T00:00:00+08:00"},
		{"ends with its last hours", `{start: 2026-11-27T00:00:00+08:00, end: 2026-11-30T00:00:00+08:00, days: [fri, sat, sun], hours: "18:00-23:59", timezone: Asia/Shanghai}`, "", ""},
		{"no days or hours", `{start: 2026-11-27T00:00:00Z, end: 2026-12-02T00:00:00Z}`, "", ""},
		{"ends at noon, hours to 10", `{start: 2026-11-01T00:00:00Z, end: 2026-11-03T12:00:00Z, hours: "08:00-09:59"}`,
			"offered only until 2026-11-03T10:00:00Z: pacing never allows more than 97%", "end: 2026-11-03T10:00:00Z"},
		{"a minute short (under 1%)", `{start: 2026-11-01T00:00:00Z, end: 2026-11-03T00:01:00Z, hours: "00:00-23:59", days: [sun, mon]}`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustLoad(t, map[string]string{"r.yaml": "currency: USD\n" + offer(tc.schedule)})
			if tc.want == "" {
				if len(rs.Warnings) != 0 {
					t.Fatalf("warnings: %v", rs.Warnings)
				}
				return
			}
			if len(rs.Warnings) != 1 {
				t.Fatalf("warnings: %v", rs.Warnings)
			}
			w := rs.Warnings[0]
			if w.Pos.File != "r.yaml" || w.Pos.Line != 5 || !strings.Contains(w.Msg, "`vip_10`") || !strings.Contains(w.Msg, tc.want) || !strings.Contains(w.Hint, tc.hint) {
				t.Errorf("warning %s\nwant %q, hint %q", w, tc.want, tc.hint)
			}
		})
	}
}

// TestPercentAsFractionWarning: a percent written as a fraction (0.15 for
// 15%) loaded without a word and gave a discount a hundred times smaller;
// it loads still (0.5% may be meant), with a warning at the number that
// says what to write for the percent it likely meant. Overrides of an
// offer do not repeat the offer's warning.
func TestPercentAsFractionWarning(t *testing.T) {
	cases := []struct {
		name, rules string
		want        []string // each warning: "line:col message-part | hint-part"
	}{
		{"percent", "offers:\n  - id: w\n    discount: {percent: 0.15}\n",
			[]string{"3:25 offer `w`: discount.percent is 0.15 percent, not 15% | write `percent: 15` for 15%"}},
		{"percent and its overrides", "offers:\n  - id: w\n    discount: {percent: 0.15}\n    title: t\n" +
			"experiments:\n  - id: e\n    variants:\n      - {id: a, weight: 50, offers: {w: {title: u}}}\n      - {id: b, weight: 50, offers: {w: {discount: {percent: 0.2}}}}\n",
			[]string{"3:25 discount.percent is 0.15 percent", "9:62 discount.percent is 0.2 percent, not 20% | write `percent: 20` for 20%"}},
		{"tier", "offers:\n  - id: w\n    discount: {tiers: [{min_total: 50, percent: 0.1}]}\n",
			[]string{"3:49 tiers[0].percent is 0.1 percent, not 10% | write `percent: 10`"}},
		{"buy x get y", "offers:\n  - id: w\n    discount: {buy_x_get_y: {buy: 2, get: 1, percent: 0.5}}\n",
			[]string{"3:55 buy_x_get_y.percent is 0.5 percent, not 50% | write `percent: 50`"}},
		{"guardrail", "offers:\n  - {id: w, kind: action}\narbitration: {max_discount_percent: 0.3}\n",
			[]string{"3:37 arbitration.max_discount_percent is 0.3 percent, not 30% | write `max_discount_percent: 30`"}},
		{"whole percents", "offers:\n  - id: w\n    discount: {percent: 15}\n  - id: x\n    discount: {percent: 1.5}\narbitration: {max_discount_percent: 40}\n", nil},
		{"an expression", "offers:\n  - id: w\n    discount: {percent: \"0.15\"}\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustLoad(t, map[string]string{"r.yaml": tc.rules})
			if len(rs.Warnings) != len(tc.want) {
				t.Fatalf("warnings %v, want %d", rs.Warnings, len(tc.want))
			}
			for i, w := range rs.Warnings {
				at, rest, _ := strings.Cut(tc.want[i], " ")
				msg, hint, _ := strings.Cut(rest, " | ")
				if got := fmt.Sprintf("%d:%d", w.Pos.Line, w.Pos.Col); got != at || !strings.Contains(w.Msg, msg) || !strings.Contains(w.Hint, hint) {
					t.Errorf("warning %d: %s (at %s)\nwant at %s %q, hint %q", i, w, got, at, msg, hint)
				}
			}
		})
	}
}

// A variant that narrows a paced offer's days, or paces an offer whose
// days already stop early, gets the same warning as the offer would, at
// the override; a variant that leaves the schedule and caps alone adds
// no second warning.
func TestPacingReachWarningInVariant(t *testing.T) {
	const base = "currency: USD\noffers:\n  - id: vip_10\n    discount: {amount: 1}\n" +
		"    schedule: {start: 2026-11-27T00:00:00Z, end: 2026-12-02T00:00:00Z}\n" +
		"    caps: {budget: 5000, pacing: even}\n" +
		"experiments:\n  - id: weekend\n    variants:\n      - {id: control, weight: 50}\n      - id: weekend\n        weight: 50\n        offers:\n          vip_10: "
	cases := []struct {
		name, override string
		line           int // 0: no warning
		want           string
	}{
		{"days narrowed", "{schedule: {days: [fri, sat, sun]}}", 14, "offered only until 2026-11-30T00:00:00Z"},
		{"end written", "{schedule: {days: [fri, sat, sun], end: 2026-12-02T00:00:00Z}}", 14, "pacing never allows more than 60% of its budget"},
		{"discount only", "{discount: {amount: 2}}", 0, ""},
		{"days to the end", "{schedule: {days: [fri, sat, sun, mon, tue]}}", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustLoad(t, map[string]string{"r.yaml": base + tc.override + "\n"})
			if tc.line == 0 {
				if len(rs.Warnings) != 0 {
					t.Fatalf("warnings: %v", rs.Warnings)
				}
				return
			}
			if len(rs.Warnings) != 1 {
				t.Fatalf("warnings: %v", rs.Warnings)
			}
			w := rs.Warnings[0]
			if w.Pos.Line != tc.line || !strings.Contains(w.Msg, "variant `weekend`: override of `vip_10`") || !strings.Contains(w.Msg, tc.want) {
				t.Errorf("warning %s (line %d)\nwant line %d, %q", w, w.Pos.Line, tc.line, tc.want)
			}
		})
	}
}

// A variant that adds pacing to an offer whose days end early is warned
// at its caps.
func TestPacingReachWarningVariantAddsPacing(t *testing.T) {
	rs := mustLoad(t, map[string]string{"r.yaml": "currency: USD\noffers:\n  - id: vip_10\n    discount: {amount: 1}\n" +
		"    schedule: {start: 2026-11-27T00:00:00Z, end: 2026-12-02T00:00:00Z, days: [fri, sat, sun]}\n" +
		"    caps: {budget: 5000}\n" +
		"experiments:\n  - id: paced\n    variants:\n      - {id: control, weight: 50}\n      - id: paced\n        weight: 50\n        offers:\n          vip_10: {caps: {budget: 5000, pacing: even}}\n"})
	if len(rs.Warnings) != 1 || rs.Warnings[0].Pos.Line != 14 || !strings.Contains(rs.Warnings[0].Msg, "variant `paced`: override of `vip_10`") {
		t.Fatalf("warnings: %v", rs.Warnings)
	}
}
