//go:build race

package wire

// raceEnabled: the race detector is on; it allocates on its own, so
// allocation counts are asserted only without it.
const raceEnabled = true
