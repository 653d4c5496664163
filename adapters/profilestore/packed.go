package profilestore

import (
	"encoding/binary"
	"unsafe"
)

// The cache keeps a customer's stored fields as one packed byte slice
// rather than as go-redis's map: a map with a string per key and per value
// is forty-odd objects a customer, every one of which the garbage collector
// marks at every cycle, for as long as the customer stays cached (100,000
// customers by default). A packed slice is one object without pointers,
// which the collector does not scan. The decoded profile's string values
// are read from it in place (view), so they add no object either.
// BenchmarkCacheGC shows the difference in a collection's time.

// packedFields is a profile's stored fields: for each, its name's length
// (uvarint), its name, its value's length (uvarint) and its value. It is
// never modified once made, which is what lets view's strings point into
// it.
type packedFields []byte

// packFields packs fields into one new allocation; nil packs to nil.
func packFields(fields map[string]string) packedFields {
	if fields == nil {
		return nil
	}
	n := 0
	for k, v := range fields {
		n += uvarintLen(len(k)) + len(k) + uvarintLen(len(v)) + len(v)
	}
	b := make(packedFields, 0, n)
	for k, v := range fields {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// view returns the fields as a map whose keys and values are read in
// place from b (no copy): a string of it stays valid as long as anything
// refers to it, since b is never modified. A nil b views as nil (the
// customer had no stored hash).
func (b packedFields) view() map[string]string {
	if b == nil {
		return nil
	}
	m := make(map[string]string, b.len())
	b.each(func(k, v string) { m[k] = v })
	return m
}

// len is the number of fields.
func (b packedFields) len() int {
	n := 0
	b.each(func(string, string) { n++ })
	return n
}

// each calls f with every field, its name and value read in place.
func (b packedFields) each(f func(k, v string)) {
	for len(b) > 0 {
		k, rest := b.next()
		v, rest2 := rest.next()
		f(k, v)
		b = rest2
	}
}

// next reads one length-prefixed string in place and returns it with the
// rest. b is what packFields made, so the lengths are always there.
func (b packedFields) next() (string, packedFields) {
	n, w := binary.Uvarint(b)
	b = b[w:]
	if n == 0 {
		return "", b
	}
	return unsafe.String(&b[0], int(n)), b[n:]
}

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}
