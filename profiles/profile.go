// Package profiles holds the customer profile model (decoding stored and
// JSON profiles by the ruleset's schema), the Redis profile store and the
// in-process cache in front of it.
package profiles

import (
	"errors"

	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/rules"
)

// ErrNotBuilt is returned by the stubs until the profile model lands.
var ErrNotBuilt = errors.New("profiles: not built yet")

// FromJSON decodes a profile in its JSON form (an object with "id" and the
// schema's fields as JSON values) into a known profile with every schema
// field typed and defaults filled in. Fields not in the schema are
// ignored; a value of the wrong type is an error naming the field.
func FromJSON(schema *rules.Schema, m map[string]any) (*engine.Profile, error) {
	return nil, ErrNotBuilt
}

// Anonymous returns the profile of a customer without a stored profile:
// every field at its default, known false, id as given ("" for anonymous).
func Anonymous(schema *rules.Schema, id string) *engine.Profile { return nil }
