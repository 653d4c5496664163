package events

import (
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestNewID(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a, b := NewID("rld_", at), NewID("rld_", at)
	if !strings.HasPrefix(a, "rld_") || len(a) != 4+26 || a == b {
		t.Fatalf("ids %q, %q", a, b)
	}
	id, err := ulid.Parse(a[4:])
	if err != nil || !ulid.Time(id.Time()).Equal(at) {
		t.Fatalf("%q: %v, time %v", a, err, ulid.Time(id.Time()))
	}
}
