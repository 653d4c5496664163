//go:build race

package httpapi

// raceEnabled: the race detector is on. Its sync.Pool drops what is put
// back at random, so pooled memory is made again now and then and
// allocation counts vary: they are asserted only without it.
const raceEnabled = true
