package events

import (
	"crypto/rand"
	"time"

	"github.com/oklog/ulid/v2"
)

// NewID returns prefix + a ULID for time t (monotonic within the process
// only by time; random otherwise): the form of Arbiter's event ids
// ("rld_" for wire.NewRulesReloaded).
func NewID(prefix string, t time.Time) string {
	id, err := ulid.New(ulid.Timestamp(t), rand.Reader)
	if err != nil { // crypto/rand does not fail on supported platforms
		return prefix + ulid.Make().String()
	}
	return prefix + id.String()
}
