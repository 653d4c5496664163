package profilestore

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
)

func TestImportMergeAndPut(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	in := "{\"id\":\"c1\",\"tier\":\"gold\",\"orders\":2}\n\n{\"id\":\"c2\"}\n[1]\n{\"id\":\"c3\",\"orders\":\"x\"}\n"
	var calls int
	res, err := Import(ctx, c, strings.NewReader(in), ImportOptions{Prefix: prefix, Schema: testSchema(), Batch: 1,
		Progress: func(int, int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || len(res.Rejected) != 2 || res.Rejected[0].Line != 4 || res.Rejected[1].Line != 5 || calls != 2 {
		t.Fatalf("%+v calls %d", res, calls)
	}
	s := NewRedisStore(c, StoreOptions{Prefix: prefix})
	if p, _ := s.Get(ctx, testSchema(), "c2"); !p.Known {
		t.Fatal("an empty profile is not known")
	}
	// merge keeps tier, replace drops it
	if _, err := Import(ctx, c, strings.NewReader(`{"id":"c1","orders":3}`), ImportOptions{Prefix: prefix, Merge: true}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, testSchema(), "c1"); p.Value("tier") != "gold" || p.Value("orders") != 3 {
		t.Fatalf("merge: %v", p.AttrMap())
	}
	if err := Put(ctx, c, prefix, testSchema(), map[string]any{"id": "c1", "orders": 4}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, testSchema(), "c1"); p.Value("tier") != "basic" || p.Value("orders") != 4 {
		t.Fatalf("put: %v", p.AttrMap())
	}
}

// TestImportLocalStoresAsTheClient: profiles imported into an in-process
// Redis through its own API (ImportOptions.Local) read back as those
// imported through the client (replaced, and merged), and share one string
// per field name and per short value.
func TestImportLocalStoresAsTheClient(t *testing.T) {
	ctx := context.Background()
	in := `{"id":"c1","tier":"gold","orders":2}
{"id":"c2","tier":"gold","orders":2}
{"id":"c3"}
{"id":"c4","orders":"x"}
`
	viaClient, viaLocal := miniredis.RunT(t), miniredis.RunT(t)
	clientOf := func(m *miniredis.Miniredis) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		return c
	}
	for i, merge := range []bool{false, true} {
		a, err := Import(ctx, clientOf(viaClient), strings.NewReader(in), ImportOptions{Schema: testSchema(), Merge: merge})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Import(ctx, clientOf(viaLocal), strings.NewReader(in), ImportOptions{Schema: testSchema(), Merge: merge, Local: viaLocal})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{3, 1}[i]; a.Imported != want || b.Imported != want || len(b.Rejected) != len(a.Rejected) {
			t.Fatalf("client %+v, local %+v", a, b)
		}
		in = `{"id":"c1","orders":3}` // then merged into the stored ones
	}
	keys := viaClient.Keys()
	if !slices.Equal(keys, viaLocal.Keys()) || len(keys) != 3 {
		t.Fatalf("keys %v and %v", keys, viaLocal.Keys())
	}
	hkeys := func(m *miniredis.Miniredis, k string) []string {
		fs, err := m.HKeys(k)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	for _, k := range keys {
		for _, f := range hkeys(viaClient, k) {
			if a, b := viaClient.HGet(k, f), viaLocal.HGet(k, f); a != b {
				t.Errorf("%s %s: %q through the client, %q local", k, f, a, b)
			}
		}
		if a, b := hkeys(viaClient, k), hkeys(viaLocal, k); !slices.Equal(a, b) {
			t.Errorf("%s: fields %v through the client, %v local", k, a, b)
		}
	}
	c1, c2 := ProfileKey(DefaultPrefix, "c1"), ProfileKey(DefaultPrefix, "c2")
	if viaLocal.HGet(c2, "tier") != "gold" || unsafe.StringData(viaLocal.HGet(c1, "tier")) != unsafe.StringData(viaLocal.HGet(c2, "tier")) {
		t.Error(`the two profiles' "gold" are not one string`)
	}
	f1, f2 := hkeys(viaLocal, c1), hkeys(viaLocal, c2)
	if len(f1) == 0 || len(f2) == 0 || unsafe.StringData(f1[0]) != unsafe.StringData(f2[0]) {
		t.Errorf("the two profiles' field names are not one string: %v %v", f1, f2)
	}
}

// TestImportWindowsExport: a JSONL file saved by a Windows tool starts with
// a UTF-8 byte order mark and ends its lines with CRLF; its first profile
// is imported like the others, not rejected as "invalid character 'ï'".
func TestImportWindowsExport(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	ctx := context.Background()
	in := "\ufeff{\"id\":\"c1\",\"tier\":\"gold\"}\r\n{\"id\":\"c2\",\"orders\":2}\r\n"
	res, err := Import(ctx, c, strings.NewReader(in), ImportOptions{Prefix: prefix, Schema: testSchema()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || len(res.Rejected) != 0 {
		t.Fatalf("%+v", res)
	}
	s := NewRedisStore(c, StoreOptions{Prefix: prefix})
	if p, _ := s.Get(ctx, testSchema(), "c1"); p.Value("tier") != "gold" {
		t.Fatalf("c1: %v", p.AttrMap())
	}
}

// TestImportLineTooLong: a line over the limit stops the import with its
// line number and the limit, not bufio's "token too long".
func TestImportLineTooLong(t *testing.T) {
	c, prefix, _ := redistest.Client(t)
	in := "{\"id\":\"c1\"}\n{\"id\":\"c2\",\"tier\":\"" + strings.Repeat("x", 17<<20) + "\"}\n"
	res, err := Import(context.Background(), c, strings.NewReader(in), ImportOptions{Prefix: prefix, Schema: testSchema()})
	if err == nil || !strings.Contains(err.Error(), "line 2 is longer than 16 MiB") {
		t.Fatalf("err = %v, want line 2 named as too long", err)
	}
	// what the result counts as imported is what is stored
	n, err := c.Exists(context.Background(), ProfileKey(prefix, "c1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != res.Imported {
		t.Fatalf("imported %d, but %d profiles are stored", res.Imported, n)
	}
}
