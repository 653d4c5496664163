package profilestore

import (
	"context"
	"strings"
	"testing"

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
	if p, _ := s.Get(ctx, testSchema(), "c1"); p.Attrs["tier"] != "gold" || p.Attrs["orders"] != 3 {
		t.Fatalf("merge: %v", p.Attrs)
	}
	if err := Put(ctx, c, prefix, testSchema(), map[string]any{"id": "c1", "orders": 4}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, testSchema(), "c1"); p.Attrs["tier"] != "basic" || p.Attrs["orders"] != 4 {
		t.Fatalf("put: %v", p.Attrs)
	}
}
