package profilestore

// negTable remembers customers without a profile ("negative entries")
// compactly: a 64-bit hash of the id and the answer's expiry, 16 bytes a
// slot with no pointer for the collector to follow, in a table of fixed
// size per shard (allocated at the first unknown customer), instead of a
// cache entry of its own (an entry, a list element, an index slot, the id,
// the profile: 1 kB of heap each, BenchmarkCacheUnknown/held). A lookup
// and an insertion look at negProbe slots from the hash's place; when all
// are taken by live answers, the one that expires first makes room, so a
// flood of unknown ids forgets older answers (each then costs a fetch
// again) and never grows the table.
//
// Two ids with the same hash: the second, when it has a profile that is
// not cached, would read as unknown until the first's answer expires
// (NegativeTTL). With 64-bit hashes and at most a few thousand live
// answers per shard, that is about one chance in 10^15 per lookup.
type negTable struct {
	slots []negSlot // len a power of two; nil until the first insertion
	live  int       // slots with a hash (some may have expired)
}

type negSlot struct {
	h   uint64 // 0: empty
	exp int64  // unix nanoseconds
}

// negProbe is the number of slots a hash may take.
const negProbe = 8

// negSlotBytes is a slot's size: the table's bytes are its length times
// this (one allocation, rounded as Go rounds it: memsize.go).
const negSlotBytes = 16

// negSlotsFor is the table size per shard for a cache of maxEnt entries
// and maxBytes per shard: a power of two, for a quarter of the entries,
// within an eighth of the bytes, from 64 to 16384 slots (256 kB).
func negSlotsFor(maxEnt int, maxBytes int64) int {
	n := 64
	for n < maxEnt/4 && n < 16384 && int64(2*n*negSlotBytes) <= maxBytes/8 {
		n *= 2
	}
	return n
}

func negHash(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// has reports whether h has a live answer at now.
func (t *negTable) has(h uint64, now int64) bool {
	if t.slots == nil {
		return false
	}
	h = negHash(h)
	mask := uint64(len(t.slots) - 1)
	for i := range uint64(negProbe) {
		s := &t.slots[(h>>8+i)&mask]
		if s.h == h {
			return now < s.exp
		}
	}
	return false
}

// put records h's answer until exp; size is the table's length when it
// is allocated here. It returns the bytes the table took (0 when it was
// there already).
func (t *negTable) put(h uint64, exp, now int64, size int) (allocated int64) {
	if t.slots == nil {
		t.slots = make([]negSlot, size)
		allocated = allocBytes(size * negSlotBytes)
	}
	h = negHash(h)
	mask := uint64(len(t.slots) - 1)
	var victim *negSlot
	victimFree := false
	for i := range uint64(negProbe) {
		s := &t.slots[(h>>8+i)&mask]
		if s.h == h {
			s.exp = exp
			return allocated
		}
		free := s.h == 0 || s.exp <= now
		switch {
		case free && !victimFree:
			victim, victimFree = s, true
		case !free && !victimFree && (victim == nil || s.exp < victim.exp):
			victim = s
		}
	}
	if victim.h == 0 {
		t.live++
	}
	*victim = negSlot{h: h, exp: exp}
	return allocated
}

// remove forgets h's answer.
func (t *negTable) remove(h uint64) {
	if t.slots == nil {
		return
	}
	h = negHash(h)
	mask := uint64(len(t.slots) - 1)
	for i := range uint64(negProbe) {
		s := &t.slots[(h>>8+i)&mask]
		if s.h == h {
			*s = negSlot{}
			t.live--
			return
		}
	}
}

// clear forgets every answer, keeping the table.
func (t *negTable) clear() {
	clear(t.slots)
	t.live = 0
}
