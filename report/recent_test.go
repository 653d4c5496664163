package report

import (
	"strconv"
	"testing"
)

// recentIDs finds an id among the latest maxRecent and forgets the older
// ones, in the order they came.
func TestRecentIDs(t *testing.T) {
	var r recentIDs
	const extra = 1000
	for i := range maxRecent + extra {
		if r.again("dcs_" + strconv.Itoa(i)) {
			t.Fatalf("dcs_%d taken for one seen before", i)
		}
	}
	if len(r.set) != maxRecent || len(r.ring) != maxRecent {
		t.Fatalf("%d ids held in a set, %d in the ring; want %d", len(r.set), len(r.ring), maxRecent)
	}
	for _, i := range []int{extra, extra + 1, maxRecent, maxRecent + extra - 1} {
		if !r.again("dcs_" + strconv.Itoa(i)) {
			t.Errorf("dcs_%d, among the latest %d, not found", i, maxRecent)
		}
	}
	for _, i := range []int{0, extra - 1} {
		if r.again("dcs_" + strconv.Itoa(i)) {
			t.Errorf("dcs_%d, older than the latest %d, still found", i, maxRecent)
		}
	}
}
