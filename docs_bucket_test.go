package arbiter_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsBucketRecipes: every Python recipe of the bucket in the docs
// (a fenced block that defines `bucket`) computes the contract's H, the
// first 8 bytes of SHA-256 read big-endian (SPEC.md "Experiments"), and
// not the FNV-1a-64 an earlier contract pinned: an experiment owner who
// recomputes assignments with a stale recipe audits the wrong customers.
func TestDocsBucketRecipes(t *testing.T) {
	paths, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range append(paths, "README.md") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(b), "```")
		for i := 1; i < len(blocks); i += 2 { // the odd parts are inside fences
			blk := blocks[i]
			if !strings.Contains(blk, "def bucket(") {
				continue
			}
			found++
			for _, want := range []string{"hashlib.sha256(", "[:8]", `"big"`, "% 10000"} {
				if !strings.Contains(blk, want) {
					t.Errorf("%s: the Python bucket recipe lacks %q: it is not H = the first 8 bytes of SHA-256, big-endian, mod 10000", p, want)
				}
			}
			for _, stale := range []string{"0xcbf29ce484222325", "0x100000001b3"} {
				if strings.Contains(blk, stale) {
					t.Errorf("%s: the Python bucket recipe computes FNV-1a-64 (%s), not the contract's SHA-256", p, stale)
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no Python bucket recipe found in the docs: the test reads nothing")
	}
}
