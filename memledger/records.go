package memledger

import "strings"

// The grant records are most of what the ledger holds: one per granted
// offer that is recorded (with a hold, or for learning), kept for the
// attribution window, hundreds of thousands under load. They are kept
// without a pointer: a reference of up to maxShortRef bytes (a decision's
// ULID is 26) is the key itself, and a record names its currency and cell
// by their index in the ledger's names. A map whose keys and values hold no
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

// records are one offer's grant records by reference.
type records struct {
	short map[refKey]record
	long  map[string]record // references longer than maxShortRef (not made by Arbiter)
}

func newRecords() records { return records{short: map[refKey]record{}} }

func (rs *records) get(ref string) (record, bool) {
	if k, ok := shortKey(ref); ok {
		r, ok := rs.short[k]
		return r, ok
	}
	r, ok := rs.long[ref]
	return r, ok
}

// put sets ref's record; ref may be the caller's memory (it is copied).
func (rs *records) put(ref string, r record) {
	if k, ok := shortKey(ref); ok {
		rs.short[k] = r
		return
	}
	if rs.long == nil {
		rs.long = map[string]record{}
	}
	rs.long[strings.Clone(ref)] = r
}

func (rs *records) len() int { return len(rs.short) + len(rs.long) }

// dropUntil deletes the records whose until is at or before now.
func (rs *records) dropUntil(now int64) {
	for k, r := range rs.short {
		if r.until <= now {
			delete(rs.short, k)
		}
	}
	for k, r := range rs.long {
		if r.until <= now {
			delete(rs.long, k)
		}
	}
}

// each calls fn for every record.
func (rs *records) each(fn func(ref string, r record)) {
	for k, r := range rs.short {
		fn(k.String(), r)
	}
	for k, r := range rs.long {
		fn(k, r)
	}
}

// nameIndex returns s's index in l.names (adding a copy of it when it is
// new); "" is 0.
func (l *Ledger) nameIndex(s string) uint32 {
	if s == "" {
		return 0
	}
	if i, ok := l.nameIdx[s]; ok {
		return i
	}
	if len(l.names) == 0 {
		l.names = append(l.names, "")
	}
	c := strings.Clone(s)
	i := uint32(len(l.names))
	l.names = append(l.names, c)
	l.nameIdx[c] = i
	return i
}

// name is the name of index i.
func (l *Ledger) name(i uint32) string {
	if i == 0 {
		return ""
	}
	return l.names[i]
}
