package wire

import (
	"math/rand/v2"
	"testing"
	"time"
)

// appendRFC3339 writes every time as AppendFormat does, in both layouts:
// whole seconds, fractions with and without trailing zeros, the first and
// last years of four digits, years beyond them, and zones other than UTC.
func TestAppendRFC3339MatchesAppendFormat(t *testing.T) {
	zone := time.FixedZone("UTC+8", 8*3600)
	times := []time.Time{
		{},
		time.Date(2026, 12, 6, 2, 2, 10, 906_000_000, time.UTC),
		time.Date(2026, 12, 6, 2, 2, 10, 900_000_000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123_400, zone),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 30, 0, 500, zone), // another day in UTC
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sec := r.Int64N(10_000 * 365 * 24 * 3600)
		t := time.Unix(sec-62135596800, 0).Add(time.Duration(r.Int64N(1e9)))
		switch r.IntN(3) {
		case 0:
			t = t.Truncate(time.Millisecond)
		case 1:
			t = t.Truncate(time.Second)
		}
		times = append(times, t)
	}
	for _, tm := range times {
		for _, c := range []struct {
			millis bool
			layout string
		}{{false, time.RFC3339Nano}, {true, milliLayout}} {
			got := string(appendRFC3339([]byte("x"), tm, c.millis))
			if want := "x" + tm.UTC().Format(c.layout); got != want {
				t.Fatalf("%v (millis %v): got %s, want %s", tm, c.millis, got, want)
			}
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	t := time.Date(2026, 12, 6, 2, 2, 10, 906_123_000, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = t.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		}
	})
	b.Run("appendRFC3339", func(b *testing.B) {
		for b.Loop() {
			buf = appendRFC3339(buf[:0], t, false)
		}
	})
}
