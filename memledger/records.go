package memledger

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// The grant records are most of what the ledger holds: one per granted
// offer that is recorded (with a hold, or for learning), kept for the
// attribution window, hundreds of thousands under load. They are kept
// without a pointer: a decision's ULID (26 characters, as Arbiter writes
// it) is the key as its 16 bytes, any other reference of up to
// maxShortRef bytes is the key itself, and a record names its currency and
// cell by their index in the ledger's names. A map whose keys and values hold no
// pointer is not scanned by the garbage collector, so that the records
// add nothing to a collection's marking however many there are
// (BenchmarkRecordsGC).

// maxShortRef is the longest reference kept in a refKey.
const maxShortRef = 31

// refKey is a reference of up to maxShortRef bytes: its length, then its
// bytes, zero-padded.
type refKey [maxShortRef + 1]byte

func shortKey(ref string) (refKey, bool) {
	var k refKey
	if len(ref) > maxShortRef {
		return k, false
	}
	k[0] = byte(len(ref))
	copy(k[1:], ref)
	return k, true
}

func (k *refKey) String() string { return string(k[1 : 1+int(k[0])]) }

// record is one grant record.
type record struct {
	amount  int64
	exp     int64 // hold expiry (ms)
	until   int64 // the record is dropped after this (ms)
	day     int32
	cell    uint32 // index in the ledger's names; 0: none
	cur     uint32 // index in the ledger's names; 0: none
	state   byte
	success bool
	hold    bool
}

// ulidKey is a reference that is a ULID as Arbiter writes it (26
// characters of Crockford's base 32, upper case): its 16 bytes, from which
// String gives the reference back exactly. Any other spelling of a ULID (in
// lower case, say) is not one, so that a reference always has one key.
func ulidKey(ref string) (ulid.ULID, bool) {
	if len(ref) != ulid.EncodedSize {
		return ulid.ULID{}, false
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return ulid.ULID{}, false
		}
	}
	id, err := ulid.ParseStrict(ref) // refuses an overflow (a first character above 7)
	return id, err == nil
}

// records are one offer's grant records by reference.
type records struct {
	ulids map[ulid.ULID]record // decisions' references (16-byte keys)
	short map[refKey]record    // other references of up to maxShortRef bytes
	long  map[string]record    // references longer than maxShortRef (not made by Arbiter)
	// The keys of each map in the order their until was set (expiry.go),
	// so that dropUntil visits only the records due.
	ulidQ  expiryQueue[ulid.ULID]
	shortQ expiryQueue[refKey]
	longQ  expiryQueue[string]
}

func newRecords() records { return records{ulids: map[ulid.ULID]record{}} }

func (rs *records) get(ref string) (record, bool) {
	if k, ok := ulidKey(ref); ok {
		r, ok := rs.ulids[k]
		return r, ok
	}
	if k, ok := shortKey(ref); ok {
		r, ok := rs.short[k]
		return r, ok
	}
	r, ok := rs.long[ref]
	return r, ok
}

// put sets ref's record, a new one or one given a new until; ref may be
// the caller's memory (it is copied). Its until is queued for dropUntil.
func (rs *records) put(ref string, r record) { rs.set(ref, r, true) }

// update sets ref's record, found by get, to r with the same until: it
// queues nothing (the record's entry is queued already).
func (rs *records) update(ref string, r record) { rs.set(ref, r, false) }

func (rs *records) set(ref string, r record, queue bool) {
	if k, ok := ulidKey(ref); ok {
		rs.ulids[k] = r
		if queue {
			rs.ulidQ.push(r.until, k)
		}
		return
	}
	if k, ok := shortKey(ref); ok {
		if rs.short == nil {
			rs.short = map[refKey]record{}
		}
		rs.short[k] = r
		if queue {
			rs.shortQ.push(r.until, k)
		}
		return
	}
	if rs.long == nil {
		rs.long = map[string]record{}
	}
	// A copy even over an existing key: assigning stores the key given.
	ref = strings.Clone(ref)
	rs.long[ref] = r
	if queue {
		rs.longQ.push(r.until, ref)
	}
}

func (rs *records) len() int { return len(rs.ulids) + len(rs.short) + len(rs.long) }

// dropUntil deletes the records whose until is at or before now, visiting
// at most limit of the entries due (expiry.go; the rest wait for the next
// call), and returns how many it visited.
func (rs *records) dropUntil(now int64, limit int) int {
	n := rs.ulidQ.popDue(now, limit, func(k ulid.ULID) {
		if r, ok := rs.ulids[k]; ok && r.until <= now {
			delete(rs.ulids, k)
		}
	})
	n += rs.shortQ.popDue(now, limit-n, func(k refKey) {
		if r, ok := rs.short[k]; ok && r.until <= now {
			delete(rs.short, k)
		}
	})
	n += rs.longQ.popDue(now, limit-n, func(k string) {
		if r, ok := rs.long[k]; ok && r.until <= now {
			delete(rs.long, k)
		}
	})
	return n
}

// each calls fn for every record.
func (rs *records) each(fn func(ref string, r record)) {
	for k, r := range rs.ulids {
		fn(k.String(), r)
	}
	for k, r := range rs.short {
		fn(k.String(), r)
	}
	for k, r := range rs.long {
		fn(k, r)
	}
}

// nameTable is the ledger's names: list[i] is index i's (list[0] is ""),
// idx the other way. A table is never changed once stored in l.names.
type nameTable struct {
	list []string
	idx  map[string]uint32
}

// intern returns s's index and the ledger's copy of s, adding one when s
// is new; "" is 0. A name seen before costs a map lookup and no lock.
func (l *Ledger) intern(s string) (uint32, string) {
	if s == "" {
		return 0, ""
	}
	t := l.names.Load()
	if i, ok := t.idx[s]; ok {
		return i, t.list[i]
	}
	l.namesMu.Lock()
	defer l.namesMu.Unlock()
	t = l.names.Load()
	if i, ok := t.idx[s]; ok {
		return i, t.list[i]
	}
	c := strings.Clone(s)
	i := uint32(len(t.list))
	idx := make(map[string]uint32, len(t.idx)+1)
	for k, v := range t.idx {
		idx[k] = v
	}
	idx[c] = i
	// The append may write past the old table's length in a shared array:
	// its readers never read there.
	l.names.Store(&nameTable{list: append(t.list, c), idx: idx})
	return i, c
}

// nameIndex returns s's index (intern).
func (l *Ledger) nameIndex(s string) uint32 {
	i, _ := l.intern(s)
	return i
}

// name is the name of index i.
func (l *Ledger) name(i uint32) string { return l.names.Load().list[i] }
