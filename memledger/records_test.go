package memledger

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/arbiterhq/arbiter/engine"
)

// TestRecordsByReferenceLength: a grant record is found, moved by its
// outcomes and reported under its reference whatever the reference's
// length (the empty one aside): a ULID as Arbiter writes it is kept as its
// 16 bytes, another reference of up to maxShortRef bytes is the map's key,
// a longer one in the map of long references; references that share a
// prefix, or differ only past it, or spell the same ULID in another case,
// are different records.
func TestRecordsByReferenceLength(t *testing.T) {
	refs := []string{"a", "01KBHZ0000000000000000000A", strings.Repeat("r", maxShortRef), strings.Repeat("r", maxShortRef+1),
		strings.Repeat("r", maxShortRef+1) + "x", "a\x00",
		"01kbhz0000000000000000000a", // the ULID above in lower case: another reference
		"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", // 26 characters of the alphabet, but over 128 bits
		"01KBHZ0000000000000000000I", // a letter Crockford's base 32 leaves out
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ"} // the largest ULID
	ctx := context.Background()
	l := New()
	for _, ref := range refs {
		if res, err := l.Reserve(ctx, &engine.Plan{Now: t0, Ref: ref, CustomerID: "c", Currency: "EUR", Limit: 1, Guardrail: 1 << 40,
			Items: []engine.PlanItem{{OfferID: "o", Amount: 100, Budget: 1 << 30, Hold: time.Hour, Record: true, Cell: "vip"}}}); err != nil || res[0] != engine.Granted {
			t.Fatalf("reserve %q: %v %v", ref, res, err)
		}
	}
	if n := len(l.lookup("o").records.ulids); n != 2 {
		t.Errorf("%d references kept as 16-byte ULIDs, want 2 (%v)", n, l.lookup("o").records.ulids)
	}
	// Convert every other one, with a reward: committed, and a success for
	// learning in its cell.
	for i, ref := range refs {
		if i%2 != 0 {
			continue
		}
		buf := []byte(ref) // the caller's memory (a request's), reused below
		out := engine.GrantOutcome{Ref: unsafe.String(&buf[0], len(buf)), Type: engine.OutcomeConverted, Reward: engine.OutcomeConverted, At: t0.Add(time.Minute),
			Now: t0.Add(time.Minute), Named: true, Offers: []engine.OutcomeOffer{{ID: "o", Budget: 1 << 30}}}
		res, err := l.Apply(ctx, []engine.GrantOutcome{out})
		if err != nil || res[0].Commits != 1 || res[0].Successes != 1 {
			t.Fatalf("convert %q: %+v %v", ref, res, err)
		}
		for j := range buf {
			buf[j] = '#'
		}
	}
	snap := l.Snapshot(t0.Add(2*time.Minute), []string{"o"})
	if len(snap.Records) != len(refs) {
		t.Errorf("%d records, want %d: %v", len(snap.Records), len(refs), snap.Records)
	}
	for i, ref := range refs {
		want := "H"
		if i%2 == 0 {
			want = "C+"
		}
		if got := snap.Records["o/"+ref]; got != want {
			t.Errorf("record %q = %q, want %q", ref, got, want)
		}
	}
	if got, want := snap.Learning["o/vip/s/"+strconv.Itoa(Day(t0))], int64(len(refs)+1)/2; got != want {
		t.Errorf("successes in vip = %d, want %d (%v)", got, want, snap.Learning)
	}
	if got := snap.Spent["o/EUR"]; got != int64(100*len(refs)) {
		t.Errorf("spent %d EUR, want %d", got, 100*len(refs))
	}
	// After the window every record is gone.
	l.nextSweep.Store(0)
	l.maintain(t0.Add(DefaultRecordTTL + 2*time.Hour).UnixMilli())
	if n := l.lookup("o").records.len(); n != 0 {
		t.Errorf("%d records left after the window", n)
	}
}
