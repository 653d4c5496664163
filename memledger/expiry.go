package memledger

// The ledger drops expired claims and grant records in sweeps, under the
// claims' mutex and each offer's in turn, which decisions' Reserve takes
// (before, one mutex for everything). A sweep that walked every map held
// the mutex for a time that grew with what is live, not with what
// expired: with the attribution window of a week, a shop keeps about a
// million grant records, and walking them took 9 ms, during which every
// decision waited (a trace of scenario a, BENCHMARKS.md, issue 19). The
// expiry queues below list the keys in the order they were put, each with
// its expiry, so that a sweep visits only what is due.

// expiryBlock is the number of entries of one block of an expiryQueue: the
// queue grows and shrinks by blocks, so that neither a push nor a pop ever
// copies the queue (a slice of a million entries, grown by append, would
// copy itself while the mutex is held).
const expiryBlock = 4096

// expiry is one entry of an expiryQueue: a key and the time (ms) at which
// it was due when it was pushed.
type expiry[K any] struct {
	at  int64
	key K
}

// expiryQueue is a first-in first-out queue of keys with their expiry. A key
// is pushed when its entry is made and whenever its expiry changes; an entry
// popped whose key has since been given a later expiry (or was removed) is
// stale and drops nothing. Expiries pushed in increasing order (a constant
// TTL) pop exactly when due; one pushed out of order (a shorter hold after
// a rules reload) waits behind the later ones before it: dropped late, never
// early. With a key type without pointers (a ULID, a refKey), the queue
// adds nothing to a collection's marking, as the maps it serves do not.
type expiryQueue[K any] struct {
	blocks [][]expiry[K] // blocks[0][head:] wait, then the other blocks
	head   int
}

// push appends key, due at at.
func (q *expiryQueue[K]) push(at int64, key K) {
	n := len(q.blocks)
	if n == 0 || len(q.blocks[n-1]) == expiryBlock {
		q.blocks = append(q.blocks, make([]expiry[K], 0, expiryBlock))
		n++
	}
	q.blocks[n-1] = append(q.blocks[n-1], expiry[K]{at: at, key: key})
}

// popDue pops the entries due at or before now, in order, up to limit, and
// calls drop with each key; it returns how many it popped.
func (q *expiryQueue[K]) popDue(now int64, limit int, drop func(K)) int {
	n := 0
	for n < limit && len(q.blocks) > 0 {
		b := q.blocks[0]
		if q.head < len(b) {
			e := &b[q.head]
			if e.at > now {
				break
			}
			drop(e.key)
			*e = expiry[K]{} // a string key is no longer kept
			q.head++
			n++
			continue
		}
		// blocks[0] is used up: the last block is kept for the next
		// pushes, any other goes.
		q.head = 0
		if len(q.blocks) == 1 {
			q.blocks[0] = b[:0]
			break
		}
		q.blocks[0] = nil
		q.blocks = q.blocks[1:]
	}
	return n
}

// len is the number of entries waiting, stale ones included.
func (q *expiryQueue[K]) len() int {
	n := -q.head
	for _, b := range q.blocks {
		n += len(b)
	}
	return n
}
