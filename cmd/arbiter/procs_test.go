package main

import "testing"

// TestChooseProcs: --procs wins, then the operator's GOMAXPROCS (already
// applied by Go), then twice Go's choice with the embedded NATS server;
// with a NATS server of its own, serve leaves Go's choice.
func TestChooseProcs(t *testing.T) {
	cases := []struct {
		name     string
		flag     int
		embedded bool
		env      string
		goProcs  int
		want     int
	}{
		{"embedded, 2 CPUs", 0, true, "", 2, 4},
		{"embedded, a container limited to 1 CPU", 0, true, "", 1, 2},
		{"a NATS server of its own", 0, false, "", 2, 0},
		{"GOMAXPROCS set", 0, true, "3", 3, 0},
		{"--procs", 6, true, "3", 3, 6},
		{"--procs with a NATS server of its own", 1, false, "", 8, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := chooseProcs(tc.flag, tc.embedded, tc.env, tc.goProcs)
			if got != tc.want || why == "" {
				t.Errorf("chooseProcs(%d, %v, %q, %d) = %d (%q), want %d", tc.flag, tc.embedded, tc.env, tc.goProcs, got, why, tc.want)
			}
		})
	}
}
