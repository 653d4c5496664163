package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

func TestCmdLearningReset(t *testing.T) {
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"learning", "reset"}, args...), stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
		return code, out.String(), errb.String()
	}
	if code, _, e := runIt(); code != exitUsage || !strings.Contains(e, "--redis URL is required") {
		t.Errorf("no redis: %d %q", code, e)
	}
	if code, _, e := runIt("--redis", url, "a b"); code != exitUsage || !strings.Contains(e, `"a b" is not an offer id`) {
		t.Errorf("bad id: %d %q", code, e)
	}
	if code, _, e := runIt("--redis", url, "--rules", "../../examples/checkout", "stay_with_uss"); code != exitFail ||
		!strings.Contains(e, "stay_with_uss is not an offer of the rules") || !strings.Contains(e, "did you mean `stay_with_us`?") {
		t.Errorf("unknown offer: %d %q", code, e)
	}
	if code, o, _ := runIt("--help"); code != exitOK || !strings.Contains(o, "Usage: arbiter learning reset") {
		t.Errorf("help: %d", code)
	}
	// The ledger deletes the offer's statistics (WAVE2: the hash
	// <prefix>learn:{OFFER}) and nothing else.
	mr.HSet("arbiter:learn:{stay_with_us}", "all|t|20785", "10")
	mr.HSet("arbiter:learn:{vip_discount}", "all|t|20785", "10")
	code, o, e := runIt("--redis", url, "--rules", "../../examples/checkout", "stay_with_us")
	if code != exitOK || mr.Exists("arbiter:learn:{stay_with_us}") || !mr.Exists("arbiter:learn:{vip_discount}") || !strings.Contains(o, "stay_with_us") {
		t.Errorf("reset stay_with_us: exit %d %q, keys %v, out %q", code, e, mr.Keys(), o)
	}
}
