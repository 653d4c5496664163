package decisionid

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
	at   = time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
)

func mustSigner(t testing.TB, keys ...[]byte) *Signer {
	t.Helper()
	s, err := NewSigner(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newULID(t testing.TB, tm time.Time) ulid.ULID {
	t.Helper()
	return ulid.MustNew(ulid.Timestamp(tm), strings.NewReader(strings.Repeat("r", 16)))
}

func TestRoundTrip(t *testing.T) {
	s := mustSigner(t, key1)
	codes := []uint32{VariantCode("discount_depth", "deep"), VariantCode("free_ship", "control")}
	cases := []struct {
		name     string
		customer string
		codes    []uint32
		holdout  bool
	}{
		{"plain", "c-1042", nil, false},
		{"variants", "c-1042", codes, false},
		{"holdout", "c-7", nil, true},
		{"anonymous", "", nil, false},
		{"unicode customer", "客户-1", codes[:1], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newULID(t, at)
			id := s.New(KindDecision, u, tc.customer, tc.codes, tc.holdout)
			if !strings.HasPrefix(id, "dcs_"+u.String()) {
				t.Fatalf("id %q does not start with dcs_ and its ULID", id)
			}
			if want := 52 + 5*len(tc.codes); len(id) != want {
				t.Fatalf("len %d, want %d", len(id), want)
			}
			d, err := s.Verify(id, tc.customer, at.Add(time.Hour), 7*24*time.Hour)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !d.Time.Equal(at.Truncate(time.Millisecond)) || d.Holdout != tc.holdout || d.ULID != u || d.Kind != KindDecision {
				t.Fatalf("decoded %+v", d)
			}
			if len(d.Codes) != len(tc.codes) {
				t.Fatalf("codes %v, want %v", d.Codes, tc.codes)
			}
			for i := range tc.codes {
				if d.Codes[i] != tc.codes[i] {
					t.Fatalf("codes %v, want %v", d.Codes, tc.codes)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	s := mustSigner(t, key1)
	other := mustSigner(t, key2)
	u := newULID(t, at)
	id := s.New(KindDecision, u, "c-1", []uint32{VariantCode("x", "a")}, false)
	dry := s.New(KindDryRun, u, "c-1", nil, false)
	flip := func(id string, i int) string {
		b := []byte(id)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	cases := []struct {
		name     string
		id, cust string
		now      time.Time
		want     error
	}{
		{"ok", id, "c-1", at.Add(time.Hour), nil},
		{"another customer", id, "c-2", at.Add(time.Hour), ErrCustomer},
		{"anonymous for a customer's", id, "", at.Add(time.Hour), ErrCustomer},
		{"expired", id, "c-1", at.Add(7*24*time.Hour + time.Second), ErrExpired},
		{"just inside the window", id, "c-1", at.Add(7 * 24 * time.Hour), nil},
		{"from the future", id, "c-1", at.Add(-2 * time.Minute), ErrUnknown},
		{"dry run", dry, "c-1", at.Add(time.Hour), ErrUnknown},
		{"another fleet", other.New(KindDecision, u, "c-1", nil, false), "c-1", at.Add(time.Hour), ErrUnknown},
		{"changed time", flip(id, 6), "c-1", at.Add(time.Hour), ErrUnknown},
		{"changed code", flip(id, 32), "c-1", at.Add(time.Hour), ErrUnknown},
		{"changed fleet tag", flip(id, 37), "c-1", at.Add(time.Hour), ErrUnknown},
		{"changed customer tag", flip(id, len(id)-1), "c-1", at.Add(time.Hour), ErrCustomer},
		{"holdout flag set", id[:30] + "1" + id[31:], "c-1", at.Add(time.Hour), ErrUnknown},
		{"old format", "dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", "c-1", at, ErrUnknown},
		{"empty", "", "c-1", at, ErrUnknown},
		{"truncated", id[:len(id)-1], "c-1", at, ErrUnknown},
		{"lower case", strings.ToLower(id), "c-1", at, ErrUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Verify(tc.id, tc.cust, tc.now, 7*24*time.Hour)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify(%q, %q) = %v, want %v", tc.id, tc.cust, err, tc.want)
			}
		})
	}
}

// TestKeyRotation: a signer with a new key first still accepts ids signed
// with the old key, and signs with the new one.
func TestKeyRotation(t *testing.T) {
	old := mustSigner(t, key1)
	rotated := mustSigner(t, key2, key1)
	u := newULID(t, at)
	id := old.New(KindDecision, u, "c-1", nil, false)
	if _, err := rotated.Verify(id, "c-1", at, 0); err != nil {
		t.Fatalf("rotated signer refuses the old key's id: %v", err)
	}
	if _, err := rotated.Verify(id, "c-2", at, 0); !errors.Is(err, ErrCustomer) {
		t.Fatalf("old key's id with another customer: %v", err)
	}
	id2 := rotated.New(KindDecision, u, "c-1", nil, false)
	if _, err := old.Verify(id2, "c-1", at, 0); !errors.Is(err, ErrUnknown) {
		t.Fatalf("the old signer accepts the new key's id: %v", err)
	}
}

// TestRotationInThreeDeploys walks the rotation of docs/operations.md: at
// every step of every rolling deploy, any two replicas, one restarted and
// one not, accept each other's ids; putting the new key first in one step
// does not (the old replica refuses the new one's ids).
func TestRotationInThreeDeploys(t *testing.T) {
	steps := []*Signer{
		mustSigner(t, key1),       // before
		mustSigner(t, key1, key2), // 1: the new key second
		mustSigner(t, key2, key1), // 2: the new key first
		mustSigner(t, key2),       // 3: the old key dropped (a window later)
	}
	u := newULID(t, at)
	for i := 0; i+1 < len(steps); i++ {
		for _, pair := range [][2]*Signer{{steps[i], steps[i+1]}, {steps[i+1], steps[i]}} {
			id := pair[0].New(KindDecision, u, "c-1", nil, false)
			if _, err := pair[1].Verify(id, "c-1", at, 0); err != nil {
				t.Errorf("deploy %d: a replica refuses the other's id: %v", i+1, err)
			}
		}
	}
	if _, err := steps[0].Verify(steps[2].New(KindDecision, u, "c-1", nil, false), "c-1", at, 0); !errors.Is(err, ErrUnknown) {
		t.Errorf("the new key first in one step: the old replica says %v, want ErrUnknown", err)
	}
}

func TestMoreThanMaxCodes(t *testing.T) {
	s := mustSigner(t, key1)
	codes := make([]uint32, MaxCodes+3)
	for i := range codes {
		codes[i] = uint32(i * 1000)
	}
	id := s.New(KindDecision, newULID(t, at), "c", codes, false)
	if len(id) > 128 {
		t.Fatalf("id of %d characters exceeds the API's 128", len(id))
	}
	d, err := s.Verify(id, "c", at, 0)
	if err != nil || !d.More || len(d.Codes) != MaxCodes {
		t.Fatalf("d %+v err %v", d, err)
	}
}

// TestCodesRoundTrip: every number of variant codes, 0 to MaxCodes+1,
// with and without the holdout, survives New and Verify, and the More flag
// says exactly whether codes were dropped.
func TestCodesRoundTrip(t *testing.T) {
	s := mustSigner(t, key1)
	u := newULID(t, at)
	for n := 0; n <= MaxCodes+1; n++ {
		for _, holdout := range []bool{false, true} {
			codes := make([]uint32, n)
			for i := range codes {
				codes[i] = VariantCode("x", strings.Repeat("v", i+1)) | 1<<24 // the top bit set too
			}
			id := s.New(KindDecision, u, "c-1", codes, holdout)
			if len(id) > MaxLength {
				t.Fatalf("%d codes: id of %d bytes, more than MaxLength %d", n, len(id), MaxLength)
			}
			d, err := s.Verify(id, "c-1", at, 0)
			if err != nil {
				t.Fatalf("%d codes, holdout %v: %v", n, holdout, err)
			}
			kept := min(n, MaxCodes)
			if d.Holdout != holdout || d.More != (n > MaxCodes) || len(d.Codes) != kept {
				t.Fatalf("%d codes, holdout %v: decoded %+v", n, holdout, d)
			}
			for i := 0; i < kept; i++ {
				if d.Codes[i] != codes[i] {
					t.Fatalf("%d codes: code %d is %d, want %d", n, i, d.Codes[i], codes[i])
				}
			}
			// Any one character changed in the flag or a code is refused.
			for p := 30; p < 30+1+5*kept; p++ {
				b := []byte(id)
				b[p] = crockford[(strings.IndexByte(crockford, b[p])+1)%32]
				if _, err := s.Verify(string(b), "c-1", at, 0); !errors.Is(err, ErrUnknown) {
					t.Fatalf("%d codes: id with byte %d changed: %v, want ErrUnknown", n, p, err)
				}
			}
		}
	}
}

func TestKeys(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
	if _, err := NewSigner(); err == nil {
		t.Fatal("no key was accepted")
	}
	ks, err := ParseKeys(" " + string(key2) + " , " + string(key1) + ",")
	if err != nil || len(ks) != 2 || string(ks[0]) != string(key2) {
		t.Fatalf("ParseKeys: %q %v", ks, err)
	}
	if _, err := ParseKeys("abc"); err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Fatalf("short key error %v should say how to make one", err)
	}
}

// TestVariantCode pins the formula: the first 25 bits of SHA-256.
func TestVariantCode(t *testing.T) {
	// printf discount_depth/deep | sha256sum: d948a84c...; the first 25 bits
	// are 0xd948a84c >> 7 = 28479824.
	if got := VariantCode("discount_depth", "deep"); got != 28479824 {
		t.Fatalf("VariantCode = %d, want 28479824", got)
	}
	if VariantCode("a", "b/c") == VariantCode("a/b", "c") {
		t.Log("codes of a/b/c coincide, as the formula says: experiment and variant ids with a slash are ambiguous")
	}
}

func FuzzVerify(f *testing.F) {
	s := mustSigner(f, key1)
	f.Add(s.New(KindDecision, newULID(f, at), "c-1", []uint32{1, 2}, true), "c-1")
	f.Add("dcs_01JDQ8Y3K5R2N7WZ0X4B6M9C1V", "")
	f.Fuzz(func(t *testing.T, id, cust string) {
		d, err := s.Verify(id, cust, at, time.Hour)
		if err == nil && d.Kind != KindDecision {
			t.Fatalf("accepted a %q id", d.Kind)
		}
		if err == nil || errors.Is(err, ErrCustomer) || errors.Is(err, ErrExpired) {
			// Passing the fleet tag: the id must be the very one the
			// signer makes of what it says, byte for byte (no second
			// spelling of a signed id, e.g. in lower case).
			codes := d.Codes
			if d.More {
				codes = append(append([]uint32(nil), codes...), 0)
			}
			if again := s.New(d.Kind, d.ULID, cust, codes, d.Holdout); err == nil && again != id {
				t.Fatalf("accepted %q, but the signer makes %q of it", id, again)
			}
		}
		Parse(id)
	})
}

func BenchmarkNew(b *testing.B) {
	s := mustSigner(b, key1)
	u := newULID(b, at)
	codes := []uint32{VariantCode("discount_depth", "deep")}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.New(KindDecision, u, "c-1042", codes, false)
	}
}

func BenchmarkVerify(b *testing.B) {
	s := mustSigner(b, key1)
	id := s.New(KindDecision, newULID(b, at), "c-1042", []uint32{VariantCode("discount_depth", "deep")}, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(id, "c-1042", at, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSeal: a seal checks under the key that made it and any signer
// holding that key (a rotation), and under no other key, for no other
// message, and never as an id's tag.
func TestSeal(t *testing.T) {
	oldKey, newKey := []byte("old-key-0123456789abcdef"), []byte("new-key-0123456789abcdef")
	old, _ := NewSigner(oldKey)
	rotated, _ := NewSigner(newKey, oldKey)
	other, _ := NewSigner([]byte("other-fleet-0123456789ab"))
	msg := []byte("out_1\x00dcs_x\x00c1")
	seal := old.Seal(msg)
	if len(seal) != SealLength {
		t.Fatalf("seal %q is %d characters, want %d", seal, len(seal), SealLength)
	}
	if seal != old.Seal(msg) {
		t.Fatal("a seal is not the same twice")
	}
	for _, tt := range []struct {
		name   string
		s      *Signer
		msg    []byte
		seal   string
		wantOK bool
	}{
		{"its own", old, msg, seal, true},
		{"rotated: the old key kept", rotated, msg, seal, true},
		{"rotated: sealed with the new key", rotated, msg, rotated.Seal(msg), true},
		{"the new key's seal, before the rotation reached it", old, msg, rotated.Seal(msg), false},
		{"another fleet", other, msg, seal, false},
		{"another message", old, []byte("out_1\x00dcs_x\x00c2"), seal, false},
		{"lower case", old, msg, strings.ToLower(seal), seal == strings.ToLower(seal)},
		{"cut short", old, msg, seal[:SealLength-1], false},
		{"empty", old, msg, "", false},
	} {
		if got := tt.s.CheckSeal(tt.msg, tt.seal); got != tt.wantOK {
			t.Errorf("%s: CheckSeal = %v, want %v", tt.name, got, tt.wantOK)
		}
	}
}
