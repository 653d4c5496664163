package loadgen

import (
	"testing"
	"time"
)

func TestScheduleAt(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		rate float64
		i    int64
		want time.Duration
	}{
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{1000, 1000, time.Second},
		{3, 1, 333333333 * time.Nanosecond},
		{3, 3, time.Second},
		{7000, 7_000_000, 1000 * time.Second}, // no drift after a million intervals
		{33333, 33333 * 3600, time.Hour},      // nor after an hour at a rate with no exact interval
		{0.5, 2, 4 * time.Second},             // below one request per second
	}
	for _, tt := range tests {
		s := Schedule{Start: start, Rate: tt.rate, N: tt.i + 1}
		if got := s.At(tt.i).Sub(start); got != tt.want {
			t.Errorf("rate %g: At(%d) = start+%s, want start+%s", tt.rate, tt.i, got, tt.want)
		}
	}
}

func TestNewSchedule(t *testing.T) {
	start := time.Unix(0, 0)
	tests := []struct {
		rate    float64
		d       time.Duration
		wantN   int64
		wantErr bool
	}{
		{1000, 10 * time.Second, 10000, false},
		{2500, 1500 * time.Millisecond, 3750, false},
		{0.5, 3 * time.Second, 1, false},
		{0, time.Second, 0, true},
		{-1, time.Second, 0, true},
		{100, 0, 0, true},
		{1e8, time.Second, 0, true},
	}
	for _, tt := range tests {
		s, err := NewSchedule(start, tt.rate, tt.d)
		if (err != nil) != tt.wantErr {
			t.Errorf("NewSchedule(%g, %s) error = %v, want error %v", tt.rate, tt.d, err, tt.wantErr)
			continue
		}
		if err == nil && s.N != tt.wantN {
			t.Errorf("NewSchedule(%g, %s).N = %d, want %d", tt.rate, tt.d, s.N, tt.wantN)
		}
	}
}

func TestScheduleDue(t *testing.T) {
	start := time.Unix(1000, 0)
	s := Schedule{Start: start, Rate: 1000, N: 5000}
	tests := []struct {
		at   time.Duration
		want int64
	}{
		{-time.Millisecond, 0},
		{0, 1},                       // request 0 is due at the start
		{time.Millisecond - 1, 1},    // request 1 not yet
		{time.Millisecond, 2},        // request 1 due exactly at its time
		{2500 * time.Microsecond, 3}, // 0, 1, 2
		{time.Second, 1001},
		{time.Hour, 5000}, // never more than N
	}
	for _, tt := range tests {
		if got := s.Due(start.Add(tt.at)); got != tt.want {
			t.Errorf("Due(start%+v) = %d, want %d", tt.at, got, tt.want)
		}
	}
	if got := s.End().Sub(start); got != 4999*time.Millisecond {
		t.Errorf("End = start+%s, want start+4.999s", got)
	}
}
