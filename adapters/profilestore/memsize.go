package profilestore

import (
	"container/list"
	"math"
	"time"
	"unsafe"

	"github.com/arbiterhq/arbiter/engine"
)

// The byte bound of the cache (CacheOptions.MaxBytes) counts what an entry
// really holds on the Go heap: its own structs, the map slots that index
// it, the stored fields (packed in one slice: packed.go), and the decoded
// profile (a map with every field of the schema, each value in an
// interface box). Each allocation is rounded
// up to the allocator's size class. TestCacheBytesMatchHeap compares the
// sum with the heap's growth (estimated/actual within 0.8 to 1.25; issue
// 13, item 7: the former estimate, 160 B + 96 B per stored field, said
// 276 B per entry where the heap held 2 KB).

// Sizes of the structs an entry allocates.
var (
	entryStructBytes   = allocBytes(int(unsafe.Sizeof(entry{})))
	elementBytes       = allocBytes(int(unsafe.Sizeof(list.Element{})))
	decodedStructBytes = allocBytes(int(unsafe.Sizeof(decoded{})))
	profileStructBytes = allocBytes(int(unsafe.Sizeof(engine.Profile{})))
	// An entry's slot in its shard's map (cacheKey → *list.Element): the
	// slot and its control byte, at the map's average occupancy (Go's
	// maps fill their tables to 7/8, then double or split them: measured
	// about 0.45 with the cache's shards of thousands of entries).
	indexSlotBytes = (int64(unsafe.Sizeof(cacheKey{})) + 8 + 1) * 20 / 9
)

// entryBytes estimates the heap bytes entry e holds once decoded (p: its
// profile, nil when not decoded), the stored fields included.
// shared, when not nil, tells the fields whose values are shared between
// customers (profiles.Shared): their boxes are counted nowhere, as the
// table that holds them is small and bounded.
func entryBytes(e *entry, p *engine.Profile, shared func(i int) bool) int64 {
	n := entryStructBytes + elementBytes + indexSlotBytes + stringBytes(len(e.id))
	n += allocBytes(cap(e.stored))
	n += decodedStructBytes
	if p != nil {
		n += profileBytes(p, e.found, shared)
	}
	return n
}

// profileBytes estimates a decoded profile: the struct, and for a known
// customer its values (or map of attributes) and their interface boxes
// (an unknown customer's attributes are the schema's defaults, shared by
// all).
func profileBytes(p *engine.Profile, known bool, shared func(i int) bool) int64 {
	n := profileStructBytes
	if !known {
		return n
	}
	if p.Values != nil {
		n += allocBytes(cap(p.Values) * 16)
		for i, v := range p.Values {
			if shared == nil || !shared(i) {
				n += boxBytes(v)
			}
		}
		return n
	}
	n += mapBytes(len(p.Attrs), 16+16)
	for _, v := range p.Attrs {
		n += boxBytes(v)
	}
	return n
}

// boxBytes is what a value stored in an interface allocates: nothing for
// booleans, small integers and the empty string (the runtime's static
// values), else the value itself, and for lists their backing arrays.
// Strings share the bytes of the stored field they were read from (a
// shared field's, those of its table: not counted, profiles.Shared).
func boxBytes(v any) int64 {
	switch x := v.(type) {
	case nil, bool:
		return 0
	case int:
		if x >= 0 && x < 256 {
			return 0
		}
		return 8
	case float64:
		if math.Float64bits(x) < 256 {
			return 0
		}
		return 8
	case string:
		if x == "" {
			return 0
		}
		return allocBytes(16)
	case time.Time:
		return allocBytes(int(unsafe.Sizeof(x)))
	case []string:
		n := allocBytes(24) + allocBytes(16*cap(x))
		for _, s := range x {
			n += stringBytes(len(s))
		}
		return n
	case []float64:
		return allocBytes(24) + allocBytes(8*cap(x))
	}
	return allocBytes(16)
}

// stringBytes is the heap a string of n bytes of its own takes: strings of
// under 16 bytes share 16-byte blocks (the tiny allocator), rounded to 8.
func stringBytes(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n < 16:
		return int64((n + 7) &^ 7)
	}
	return allocBytes(n)
}

// mapBytes estimates a Go map (Swiss table, Go 1.24 and later) of n
// entries of slot bytes each (key and value): its header, and its groups
// of 8 slots with 8 control bytes, as many as keep it at most 7/8 full,
// in powers of two.
func mapBytes(n int, slot int) int64 {
	const header = 48
	if n == 0 {
		return header
	}
	if n <= 8 {
		return header + allocBytes(8+8*slot)
	}
	capacity := 16
	for capacity*7/8 < n {
		capacity *= 2
	}
	const table = 32 // a table's struct, and its directory's pointer
	return header + table + allocBytes(8) + allocBytes(capacity/8*(8+8*slot))
}

// sizeClasses are the Go allocator's size classes up to 32 KiB
// (runtime/sizeclasses.go); larger objects take whole 8 KiB pages.
var sizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocBytes is what an allocation of n bytes takes on the heap.
func allocBytes(n int) int64 {
	if n <= 0 {
		return 0
	}
	if n > 32768 {
		return int64((n + 8191) &^ 8191)
	}
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if sizeClasses[mid] >= n {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return int64(sizeClasses[lo])
}
