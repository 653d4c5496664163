package arbiter_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arbiterhq/arbiter/decisionid"
)

// TestDecisionIDLengthsAsDocumented: docs/api.md gives the length of a
// decision id, which integrators size their columns by; it must be the
// length decisionid makes.
func TestDecisionIDLengthsAsDocumented(t *testing.T) {
	b, err := os.ReadFile("docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(b)), " ")
	m := regexp.MustCompile(`(\d+) characters without experiments, (\d+) with one, at most (\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal(`docs/api.md no longer says "N characters without experiments, M with one, at most K" of a decision id`)
	}
	s, err := decisionid.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	u := ulid.MustNew(ulid.Timestamp(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)), strings.NewReader(strings.Repeat("r", 16)))
	codes := make([]uint32, decisionid.MaxCodes+1)
	shortest, longest := len(s.New(decisionid.KindDecision, u, "c-1", nil, false)), len(s.New(decisionid.KindDecision, u, "c-1", codes, false))
	events, err := os.ReadFile("docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(shortest) + " to " + strconv.Itoa(longest) + " characters"; !strings.Contains(string(events), want) {
		t.Errorf("docs/events.md does not give the decision event's id as %q", want)
	}
	for i, want := range map[int]int{1: shortest,
		2: len(s.New(decisionid.KindDecision, u, "c-1", codes[:1], false)),
		3: longest} {
		if got, _ := strconv.Atoi(m[i]); got != want {
			t.Errorf("docs/api.md says %q: %s, but decisionid makes %d", m[0], m[i], want)
		}
	}
}
