// Package decisionid makes and checks signed decision ids, so that every
// replica can tell, with no storage, whether an outcome names a decision
// that the fleet really made, for this customer, within the attribution
// window, and which experiment variants and holdout that decision recorded.
//
// An id is
//
//	kind "_" ULID flags codes fleet-tag customer-tag
//
// where kind is "dcs" for a real decision and "dry" for a dry run (whose
// outcomes are always refused), ULID is the 26-character ULID whose time is
// the decision's, flags is one base32 character (bit 0: the customer was in
// the holdout; bit 1: the decision enrolled more experiments than the id
// carries), codes is five base32 characters per experiment variant the
// decision enrolled the customer in (VariantCode), fleet-tag is 8 base32
// characters (the first 40 bits) of HMAC-SHA256(key, kind "_" ULID flags
// codes) and customer-tag is 13 characters (the first 64 bits) of
// HMAC-SHA256(key, kind "_" ULID flags codes "/" customer_id). The base32
// alphabet is Crockford's, as in ULIDs. An id with n variant codes is
// 4 + 26 + 1 + 5n + 8 + 13 characters; at most MaxCodes codes are carried,
// so an id is at most 112 characters, within the API's 128.
//
// A forged id fails the fleet tag (unknown_decision); a real id sent with
// another customer's id passes the fleet tag and fails the customer tag
// (customer_mismatch). Keys rotate: a Signer signs with its first key and
// accepts any of its keys.
package decisionid

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Kinds of decision, the id's first three characters.
const (
	KindDecision = "dcs"
	KindDryRun   = "dry"
)

// MaxCodes is the most variant codes an id carries; a decision enrolled in
// more experiments sets the overflow flag.
const MaxCodes = 12

// MinKeyLength is the shortest key a Signer accepts, in bytes.
const MinKeyLength = 16

const (
	crockford   = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeLen     = 5
	fleetLen    = 8
	customerLen = 13
	headLen     = 4 + ulid.EncodedSize + 1 // "dcs_" ULID flags
	flagHoldout = 1
	flagMore    = 2
)

// Errors of Verify, one per refusal code of the outcome API.
var (
	// ErrUnknown: not an id the fleet made (or a dry run's, or unreadable).
	ErrUnknown = errors.New("unknown decision")
	// ErrCustomer: a real id, sent with another customer's id.
	ErrCustomer = errors.New("the decision was made for another customer")
	// ErrExpired: older than the attribution window.
	ErrExpired = errors.New("the decision is older than the attribution window")
)

// Decision is what an id says about its decision.
type Decision struct {
	Kind    string
	ULID    ulid.ULID
	Time    time.Time
	Holdout bool
	// Codes are the VariantCode of every experiment variant the decision
	// enrolled the customer in, in the decision's order.
	Codes []uint32
	// More: the decision enrolled more than MaxCodes experiments; Codes
	// holds the first MaxCodes.
	More bool
}

// VariantCode is the 25-bit code of an experiment's variant in an id: the
// first 25 bits of SHA-256(experiment_id "/" variant_id).
func VariantCode(experimentID, variantID string) uint32 {
	h := sha256.New()
	h.Write([]byte(experimentID))
	h.Write([]byte{'/'})
	h.Write([]byte(variantID))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return (uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])) >> 7
}

// Signer makes and checks ids with the fleet's keys. It is safe for
// concurrent use.
type Signer struct {
	keys [][]byte
	macs []sync.Pool // of *mac, one pool per key
}

// mac is a keyed HMAC with its own buffers, so that signing allocates
// nothing but the id.
type mac struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer that signs with keys[0] and accepts ids signed
// with any of keys. Every key must be at least MinKeyLength bytes.
func NewSigner(keys ...[]byte) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("decisionid: no key")
	}
	s := &Signer{macs: make([]sync.Pool, len(keys))}
	for i, k := range keys {
		if len(k) < MinKeyLength {
			return nil, fmt.Errorf("decisionid: key %d is %d bytes; a decision key needs at least %d (e.g. 32 random bytes, hex-encoded)", i+1, len(k), MinKeyLength)
		}
		k := append([]byte(nil), k...)
		s.keys = append(s.keys, k)
		s.macs[i].New = func() any { return &mac{h: hmac.New(sha256.New, k), buf: make([]byte, 0, 256)} }
	}
	return s, nil
}

// ParseKeys reads the --decision-key value: one or more keys separated by
// commas, the first signing; each is taken as its bytes.
func ParseKeys(v string) ([][]byte, error) {
	var out [][]byte
	for _, k := range strings.Split(v, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if len(k) < MinKeyLength {
			return nil, fmt.Errorf("a decision key is %d characters; it needs at least %d (e.g. 32 random bytes, hex-encoded: openssl rand -hex 32)", len(k), MinKeyLength)
		}
		out = append(out, []byte(k))
	}
	if len(out) == 0 {
		return nil, errors.New("no decision key given")
	}
	return out, nil
}

// New returns the id of a decision: kind KindDecision or KindDryRun, id its
// ULID, customerID its customer ("" when anonymous), codes the VariantCode
// of its assignments (at most MaxCodes are kept) and holdout its holdout
// membership.
func (s *Signer) New(kind string, id ulid.ULID, customerID string, codes []uint32, holdout bool) string {
	var buf [MaxLength]byte
	return string(s.AppendNew(buf[:0], kind, id, customerID, codes, holdout))
}

// MaxLength is the most bytes a decision id made by New has.
const MaxLength = headLen + codeLen*MaxCodes + fleetLen + customerLen

// AppendNew appends the id New returns to dst: the same id, without
// allocating when dst has room for MaxLength more bytes.
func (s *Signer) AppendNew(dst []byte, kind string, id ulid.ULID, customerID string, codes []uint32, holdout bool) []byte {
	more := false
	if len(codes) > MaxCodes {
		codes, more = codes[:MaxCodes], true
	}
	start := len(dst)
	b := append(dst, kind...)
	b = append(b, '_')
	b = b[:len(b)+ulid.EncodedSize]
	_ = id.MarshalTextTo(b[len(b)-ulid.EncodedSize:])
	flags := 0
	if holdout {
		flags |= flagHoldout
	}
	if more {
		flags |= flagMore
	}
	b = append(b, crockford[flags])
	for _, c := range codes {
		b = appendBase32(b, uint64(c), codeLen)
	}
	body := len(b)
	fleet, cust := tags(s, 0, b[start:body], customerID)
	b = appendBase32(b, fleet, fleetLen)
	return appendBase32(b, cust, customerLen)
}

// tags computes the fleet tag (40 bits) and the customer tag (64 bits).
func tags[B string | []byte](s *Signer, key int, body B, customerID string) (fleet uint64, cust uint64) {
	m := s.macs[key].Get().(*mac)
	defer s.macs[key].Put(m)
	m.buf = append(append(append(m.buf[:0], body...), '/'), customerID...)
	m.h.Reset()
	m.h.Write(m.buf[:len(body)])
	fleet = be40(m.h.Sum(m.sum[:0]))
	m.h.Reset()
	m.h.Write(m.buf)
	return fleet, be64(m.h.Sum(m.sum[:0]))
}

// SealLength is the length of a seal (Seal): 26 base32 characters, the
// first 128 bits of its HMAC.
const SealLength = 26

// sealDomain begins what a seal's HMAC is over, so that no seal is ever
// the tag of an id (whose HMACs are over "dcs_" or "dry_" and more).
const sealDomain = "seal\x00"

// Seal returns the seal of msg with the signing key: the first 128 bits
// of HMAC-SHA256(key, "seal" 0x00 msg), in SealLength characters of
// Crockford's base 32. It lets a process of the fleet prove that it wrote
// msg (an outcome event it checked and applied) to the others, which
// check it with CheckSeal; a service without the key cannot make one.
func (s *Signer) Seal(msg []byte) string {
	var buf [SealLength]byte
	return string(s.appendSeal(buf[:0], 0, msg))
}

// CheckSeal reports whether seal is msg's Seal under any of the signer's
// keys (a seal made before a rotation stays good while its key is kept).
func (s *Signer) CheckSeal(msg []byte, seal string) bool {
	if len(seal) != SealLength {
		return false
	}
	for k := range s.keys {
		var buf [SealLength]byte
		if hmac.Equal(s.appendSeal(buf[:0], k, msg), []byte(seal)) {
			return true
		}
	}
	return false
}

// appendSeal appends the seal of msg under key number key: the first and
// the second 64 bits of its HMAC, 13 characters each.
func (s *Signer) appendSeal(dst []byte, key int, msg []byte) []byte {
	m := s.macs[key].Get().(*mac)
	defer s.macs[key].Put(m)
	m.h.Reset()
	m.h.Write([]byte(sealDomain))
	m.h.Write(msg)
	sum := m.h.Sum(m.sum[:0])
	return appendBase32(appendBase32(dst, be64(sum), SealLength/2), be64(sum[8:]), SealLength/2)
}

// Verify checks id for an outcome of customerID arriving at now: ErrUnknown
// when the fleet did not make it (or it is a dry run's, or malformed),
// ErrCustomer when it was made for another customer, ErrExpired when it is
// older than window (0: no limit). A decision "in the future" by more than
// a minute (clock skew aside) is unknown.
func (s *Signer) Verify(id, customerID string, now time.Time, window time.Duration) (Decision, error) {
	d, body, fleet, cust, ok := parse(id)
	if !ok {
		return Decision{}, ErrUnknown
	}
	for k := range s.keys {
		f, c := tags(s, k, body, customerID)
		if f != fleet {
			continue
		}
		if d.Kind != KindDecision {
			return d, ErrUnknown
		}
		if c != cust {
			return d, ErrCustomer
		}
		if d.Time.After(now.Add(time.Minute)) {
			return d, ErrUnknown
		}
		if window > 0 && now.Sub(d.Time) > window {
			return d, ErrExpired
		}
		return d, nil
	}
	return Decision{}, ErrUnknown
}

// Parse reads what an id says, without checking its tags: for tools that
// read recorded events (replay, reports), never for deciding whether to
// count an outcome.
func Parse(id string) (Decision, bool) {
	d, _, _, _, ok := parse(id)
	return d, ok
}

func parse(id string) (d Decision, body string, fleet, cust uint64, ok bool) {
	n := len(id) - headLen - fleetLen - customerLen
	if n < 0 || n%codeLen != 0 || n/codeLen > MaxCodes || id[3] != '_' {
		return d, "", 0, 0, false
	}
	d.Kind = id[:3]
	if d.Kind != KindDecision && d.Kind != KindDryRun {
		return d, "", 0, 0, false
	}
	u, err := ulid.ParseStrict(id[4 : 4+ulid.EncodedSize])
	if err != nil {
		return d, "", 0, 0, false
	}
	d.ULID = u
	d.Time = ulid.Time(u.Time()).UTC()
	flags, ok := digit(id[headLen-1])
	if !ok || flags > flagHoldout|flagMore {
		return d, "", 0, 0, false
	}
	d.Holdout = flags&flagHoldout != 0
	d.More = flags&flagMore != 0
	p := headLen
	if n > 0 {
		d.Codes = make([]uint32, 0, n/codeLen)
	}
	for ; p < headLen+n; p += codeLen {
		c, ok := readBase32(id[p : p+codeLen])
		if !ok {
			return d, "", 0, 0, false
		}
		d.Codes = append(d.Codes, uint32(c))
	}
	fleet, ok1 := readBase32(id[p : p+fleetLen])
	cust, ok2 := readBase32(id[p+fleetLen:])
	if !ok1 || !ok2 {
		return d, "", 0, 0, false
	}
	return d, id[:p], fleet, cust, true
}

// be40 is the first 40 bits of b, big-endian.
func be40(b []byte) uint64 {
	return uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
}

// be64 is the first 64 bits of b, big-endian.
func be64(b []byte) uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// appendBase32 appends the low 5×n bits of v as n Crockford base32
// characters, most significant first (13 characters hold 64 bits).
func appendBase32(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		shift := uint(5 * i)
		if shift >= 64 {
			b = append(b, crockford[0])
			continue
		}
		b = append(b, crockford[(v>>shift)&31])
	}
	return b
}

func readBase32(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := digit(s[i])
		if !ok {
			return 0, false
		}
		if v>>59 != 0 { // would overflow 64 bits
			return 0, false
		}
		v = v<<5 | uint64(d)
	}
	return v, true
}

func digit(c byte) (int, bool) {
	i := strings.IndexByte(crockford, c)
	return i, i >= 0
}
