package rules

import (
	"testing"
	"time"
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
