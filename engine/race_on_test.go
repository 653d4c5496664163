//go:build race

package engine

// raceEnabled: the race detector is on. Its sync.Pool drops what is put
// back at random, so the scratch memory is made again now and then and
// allocation counts vary: they are asserted only without it (CI's second
// pass, go test ./...).
const raceEnabled = true
