package ledger

import (
	"testing"
	"unsafe"
)

// TestCallsCarryTheirOwnStrings: a walk sent through the autopipeliner
// (ownStrings) and the undo or release run in the background (detach)
// carry copies of the plan's strings, which may be the request's, in
// memory the server reuses for the next request.
func TestCallsCarryTheirOwnStrings(t *testing.T) {
	tests := []struct {
		name string
		own  func(keys []string, args []any) ([]string, []any)
	}{
		{"ownStrings", ownStrings},
		{"detach", func(keys []string, args []any) ([]string, []any) {
			c := &call{keys: keys, args: args}
			detach([]*call{c})
			return c.keys, c.args
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := []byte("cust-A01KBHZ0000000000000000000A")
			view := func(from, to int) string { return unsafe.String(&mem[from], to-from) }
			keys := []string{"arb:tomb:{" + "t1" + "}", view(0, 6)}
			args := []any{"1", view(6, len(mem)), 42, view(0, 6)}
			k, a := tc.own(keys, args)
			copy(mem, "cust-B01KBHZ0000000000000000000B") // the next request
			if k[1] != "cust-A" || a[1] != "01KBHZ0000000000000000000A" || a[3] != "cust-A" || a[2] != 42 || a[0] != "1" || k[0] != "arb:tomb:{t1}" {
				t.Errorf("after the next request: keys %q, args %v", k, a)
			}
		})
	}
}
