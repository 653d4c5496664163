package httpapi

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// idGen makes the ULIDs of decisions and outcomes, safe for concurrent use
// without a lock. The ids of one millisecond share a random 80-bit base
// (its top bit clear) and add a counter to it, so that the ids a server
// makes within a millisecond sort in the order they were made (the order
// of the counter's increments) and never repeat; the ids of a later
// millisecond sort after them. A time behind the newest millisecond seen
// gets an id of its own millisecond with fresh random bits, as a monotonic
// entropy source gave it before.
//
// It replaced a mutex around ulid.MonotonicEntropy: traces of scenario a's
// open loop showed the slowest requests waiting up to a millisecond on
// average on that mutex when the thread holding it was off the CPU
// (BENCHMARKS.md, issue 19, ninth pass); BenchmarkIDsParallel compares the
// two.
type idGen struct {
	cur atomic.Pointer[idEpoch]
}

// idEpoch is the state of one millisecond.
type idEpoch struct {
	ms     uint64
	hi     uint16 // the base's top 16 bits (the top one clear)
	lo     uint64 // its low 64 bits
	issued atomic.Uint64
}

// next returns prefix + a ULID of time t (prefix is 4 bytes: "out_").
func (g *idGen) next(prefix string, t time.Time) string {
	var buf [4 + ulid.EncodedSize]byte
	n := copy(buf[:], prefix)
	id := g.ulid(t)
	_ = id.MarshalTextTo(buf[n : n+ulid.EncodedSize])
	return string(buf[:n+ulid.EncodedSize])
}

// ulid returns a ULID of time t, after every one made before of the same
// millisecond.
func (g *idGen) ulid(t time.Time) ulid.ULID {
	ms := idTime(t)
	var id ulid.ULID
	_ = id.SetTime(ms) // idTime is within ULIDs' range
	for {
		e := g.cur.Load()
		switch {
		case e != nil && e.ms == ms:
			// base + k, k ≥ 1: the base's top bit is clear, so the sum
			// fits the 80 bits for any k a uint64 holds.
			k := e.issued.Add(1)
			lo := e.lo + k
			hi := e.hi
			if lo < e.lo {
				hi++
			}
			binary.BigEndian.PutUint16(id[6:8], hi)
			binary.BigEndian.PutUint64(id[8:16], lo)
			return id
		case e != nil && ms < e.ms:
			_, _ = rand.Read(id[6:]) // crypto/rand.Read never fails (Go 1.24)
			return id
		}
		var b [10]byte
		_, _ = rand.Read(b[:])
		ne := &idEpoch{ms: ms, hi: binary.BigEndian.Uint16(b[:2]) &^ 0x8000, lo: binary.BigEndian.Uint64(b[2:])}
		g.cur.CompareAndSwap(e, ne) // lost: another made this millisecond's (or a later one's)
	}
}

// idTime is t as a ULID's time: milliseconds since 1970, a time before 1970
// (the zero time of a clock that was not set) as 0, one past the year
// 10889 as the last ULIDs can hold. A server's clock gives neither; an
// injected one (Options.Now) might, and an id must not panic.
func idTime(t time.Time) uint64 {
	switch {
	case t.Before(time.UnixMilli(0)):
		return 0
	case t.After(ulid.Time(ulid.MaxTime())):
		return ulid.MaxTime()
	}
	return ulid.Timestamp(t)
}
