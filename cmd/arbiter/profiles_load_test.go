package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// TestServeProfilesLoadsLikeImport: `serve --profiles` and `profiles
// import` store the same JSONL alike. A profile with only an id is a known
// customer on both paths: import stored it, serve's own loader did not
// (bug 1 of issue 12).
func TestServeProfilesLoadsLikeImport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve with an embedded Redis and NATS")
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	profilesWriteFile(t, filepath.Join(rulesDir, "profile.yaml"), "profile:\n  ltv: number\n  tier: {type: string, default: basic}\n")
	profilesWriteFile(t, filepath.Join(rulesDir, "segments.yaml"), "segments:\n  - id: known_customer\n    when: profile.known\n")
	file := filepath.Join(dir, "p.jsonl")
	profilesWriteFile(t, file, `{"id":"c-1"}`+"\n"+`{"id":"c-2","tier":"gold"}`+"\n")
	run1 := func(ctx context.Context, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, args, stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
		return code, out.String(), errb.String()
	}

	// profiles import: both customers are known.
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	if code, out, errs := run1(context.Background(), "profiles", "import", "--redis", url, "--rules", rulesDir, file); code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	importKnown := map[string]bool{}
	for _, id := range []string{"c-1", "c-2"} {
		code, _, _ := run1(context.Background(), "profiles", "get", "--redis", url, "--rules", rulesDir, id)
		importKnown[id] = code == exitOK
	}

	// serve --profiles: the same file into the embedded Redis.
	ctx, cancel := context.WithCancel(context.Background())
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	done := make(chan int, 1)
	var serveErr syncBuffer
	go func() {
		done <- run(ctx, []string{"serve", "--rules", rulesDir, "--no-auth", "--addr", addr, "--profiles", file, "--log-level", "warn",
			// What is tested is which customers are stored, not the decision's
			// deadline: a loaded CI machine must not turn a slow embedded
			// Redis into "unknown" (the decision's own deadline bounds the
			// fetch too: under load a fetch past 50 ms was profile_unavailable).
			"--redis-timeout", "10s", "--decision-timeout", "10s"},
			stdio{In: strings.NewReader(""), Out: io.Discard, Err: &serveErr})
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve: exit %d\n%s", code, serveErr.String())
		}
	}()
	exited := false
	poll(t, "serve to listen", 30*time.Second, func() bool {
		select {
		case code := <-done:
			done <- code
			exited = true
			return true
		default:
		}
		res, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	if exited {
		t.Fatalf("serve stopped at start:\n%s", serveErr.String())
	}
	serveKnown := map[string]bool{}
	for _, id := range []string{"c-1", "c-2"} {
		res, err := http.Post("http://"+addr+"/v1/decide", "application/json", strings.NewReader(`{"customer_id":"`+id+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Segments []string `json:"segments"`
			Degraded []string `json:"degraded"`
		}
		err = json.NewDecoder(res.Body).Decode(&d)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || len(d.Degraded) > 0 {
			t.Fatalf("decide %s: %d %+v %v", id, res.StatusCode, d, err)
		}
		serveKnown[id] = slices.Contains(d.Segments, "known_customer")
	}

	for _, id := range []string{"c-1", "c-2"} {
		if !importKnown[id] || !serveKnown[id] {
			t.Errorf("customer %s: known after profiles import %v, after serve --profiles %v; want known on both", id, importKnown[id], serveKnown[id])
		}
	}
}

// TestServeProfilesRejected: a line of --profiles that is not a valid
// profile stops serve at start, naming the file, the line and why.
func TestServeProfilesRejected(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	profilesWriteFile(t, filepath.Join(rulesDir, "profile.yaml"), "profile:\n  ltv: number\n")
	file := filepath.Join(dir, "p.jsonl")
	profilesWriteFile(t, file, `{"id":"c-1"}`+"\n\n"+`{"id":"c-2","ltv":"lots"}`+"\n"+`not json`+"\n")
	var errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--rules", rulesDir, "--no-auth", "--addr", "127.0.0.1:0", "--profiles", file, "--log-level", "warn"},
		stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errb})
	if code != exitFail {
		t.Fatalf("exit %d, want %d: %s", code, exitFail, errb.String())
	}
	for _, want := range []string{"2 of the profiles in " + file + " are not valid", file + ":3: profile.ltv: want a number", file + ":4: not a JSON object"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}
