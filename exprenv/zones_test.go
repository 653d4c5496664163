package exprenv

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeZones is a time-zone database of made-up zones that counts how often
// it is read.
type fakeZones struct {
	zones      map[string]*time.Location
	loads, all atomic.Int32
}

func newFakeZones() *fakeZones {
	return &fakeZones{zones: map[string]*time.Location{
		"Test/Plus2":  time.FixedZone("Test/Plus2", 2*3600),
		"Test/Minus5": time.FixedZone("Test/Minus5", -5*3600),
		"Test/Plus9":  time.FixedZone("Test/Plus9", 9*3600),
	}}
}

func (z *fakeZones) Load(name string) (*time.Location, error) {
	z.loads.Add(1)
	if name == "" || name == "UTC" { // as time.LoadLocation
		return time.UTC, nil
	}
	if loc, ok := z.zones[name]; ok {
		return loc, nil
	}
	return nil, fmt.Errorf("unknown time zone %s", name)
}

func (z *fakeZones) All() (map[string]*time.Location, error) {
	z.all.Add(1)
	return maps.Clone(z.zones), nil
}

func (z *fakeZones) reads() int32 { return z.loads.Load() + z.all.Load() }

// A zone named by the request or the profile must never be read from the
// time-zone database during a decision (a file read that data can
// trigger): the zones are loaded when the expressions are compiled, and a
// name the database does not hold is a run-time error of the rule.
func TestZonesFromDataAreNotLoadedDuringADecision(t *testing.T) {
	z := newFakeZones()
	c := NewCompiler(Config{Profile: []Field{{"tz", TypeString}}, Zones: z})
	exprs := map[string]*Expr{}
	for _, src := range []string{
		`hourIn(profile.tz)`,
		`weekdayIn(ctx.tz) == "fri" ? 1 : 0`,
		`hourIn("Test/Plus9")`,
		`timezone(ctx.tz).String() == ctx.tz ? 1 : 0`,
		`date("2026-11-27 12:00", "2006-01-02 15:04", ctx.tz).UTC().Hour()`,
	} {
		exprs[src] = mustCompile(t, c, KindNumber, src)
	}
	layout := c.Finish(nil)
	compiled := z.reads()

	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // a Friday, 12:00 UTC
	type want struct {
		v   float64
		err string
	}
	cases := []struct {
		tz   string
		want map[string]want
	}{
		{"Test/Plus2", map[string]want{
			`hourIn(profile.tz)`: {v: 14}, `weekdayIn(ctx.tz) == "fri" ? 1 : 0`: {v: 1}, `hourIn("Test/Plus9")`: {v: 21},
			`timezone(ctx.tz).String() == ctx.tz ? 1 : 0`: {v: 1}, `date("2026-11-27 12:00", "2006-01-02 15:04", ctx.tz).UTC().Hour()`: {v: 10},
		}},
		{"Test/Minus5", map[string]want{`hourIn(profile.tz)`: {v: 7}, `date("2026-11-27 12:00", "2006-01-02 15:04", ctx.tz).UTC().Hour()`: {v: 17}}},
		{"", map[string]want{`hourIn(profile.tz)`: {v: 12}}}, // as time.LoadLocation: UTC
		{"UTC", map[string]want{`hourIn(profile.tz)`: {v: 12}}},
		{"Europe/Nowhere", map[string]want{
			`hourIn(profile.tz)`: {err: "unknown time zone Europe/Nowhere"}, `weekdayIn(ctx.tz) == "fri" ? 1 : 0`: {err: "unknown time zone"},
			`timezone(ctx.tz).String() == ctx.tz ? 1 : 0`: {err: "unknown time zone"}, `hourIn("Test/Plus9")`: {v: 21},
		}},
		{"Local", map[string]want{`hourIn(profile.tz)`: {err: "unknown time zone Local"}}},
		{"../../../../etc/passwd", map[string]want{`hourIn(profile.tz)`: {err: "unknown time zone"}}},
	}
	var env Env
	for _, tc := range cases {
		env.Begin(layout, &Input{Now: now, Attrs: map[string]any{"tz": tc.tz}, Context: map[string]any{"tz": tc.tz}})
		for src, x := range exprs {
			v, err := env.Number(x)
			w, checked := tc.want[src]
			switch {
			case !checked:
			case w.err != "" && (err == nil || !strings.Contains(Message(err), w.err)):
				t.Errorf("tz %q: %s = %v, %v; want the error %q", tc.tz, src, v, err, w.err)
			case w.err == "" && (err != nil || v != w.v):
				t.Errorf("tz %q: %s = %v, %v; want %v", tc.tz, src, v, err, w.v)
			}
		}
		env.End()
	}
	if n := z.reads() - compiled; n != 0 {
		t.Errorf("the time-zone database was read %d times during decisions, want 0", n)
	}
}

// Every zone is read from the first database found, as time.LoadLocation
// finds it ($ZONEINFO first), from a zip or a directory; the posix/ and
// right/ copies, the machine's localtime and files that are not zones
// are left out.
func TestSystemZonesReadTheWholeDatabase(t *testing.T) {
	zipPath := filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip")
	t.Setenv("ZONEINFO", zipPath)
	all, err := SystemZones().All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 300 || all["Europe/Paris"] == nil || all["Asia/Shanghai"] == nil {
		t.Fatalf("%d zones from %s, Europe/Paris %v", len(all), zipPath, all["Europe/Paris"])
	}

	z, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var paris []byte
	for _, f := range z.File {
		if f.Name == "Europe/Paris" {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			paris, err = io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"Test/Paris": paris, "posix/Test/Paris": paris, "right/Test/Paris": paris, "localtime": paris, "zone.tab": []byte("# not a zone"),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("ZONEINFO", dir)
	all, err = SystemZones().All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all["Test/Paris"] == nil {
		t.Fatalf("zones %v, want only Test/Paris", slices.Sorted(maps.Keys(all)))
	}
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC).In(all["Test/Paris"])
	if summer.Hour() != 14 {
		t.Errorf("12:00 UTC in Test/Paris in July is %d:00, want 14:00", summer.Hour())
	}
}

// When the time-zone database cannot be read, an expression that takes
// its zone from data is an error at load, where the zone is read; a
// constant zone still works through Load.
func TestZonesFromDataNeedTheDatabase(t *testing.T) {
	c := NewCompiler(Config{Profile: []Field{{"tz", TypeString}}, Zones: noDatabase{}})
	if _, errs := c.Compile(`hourIn("UTC") == 3`, KindCond, "segment `s`: when"); len(errs) != 0 {
		t.Fatalf("a constant zone: %+v", errs)
	}
	_, errs := c.Compile(`hourIn(profile.tz) == 3`, KindCond, "segment `s`: when")
	if len(errs) != 1 || errs[0].Offset != 7 || !strings.Contains(errs[0].Msg, "hourIn takes its time zone from data") ||
		!strings.Contains(errs[0].Msg, "no database here") || !strings.Contains(errs[0].Hint, "tzdata") {
		t.Fatalf("errors %+v", errs)
	}
}

type noDatabase struct{}

func (noDatabase) Load(name string) (*time.Location, error) { return time.LoadLocation(name) }
func (noDatabase) All() (map[string]*time.Location, error) {
	return nil, errors.New("no database here")
}

// TestWeekdayNames: weekdayIn gives "mon" ... "sun"; a comparison with any
// other text ("monday", "Sat") never holds, so the rule would silently
// never match. It is an error at load, at the text, with what to write.
func TestWeekdayNames(t *testing.T) {
	cases := []struct {
		src      string
		off      int // rune offset of the error; -1: compiles
		wantHint string
	}{
		{`weekdayIn("UTC") == "monday"`, 20, `write "mon": weekdayIn gives "mon", "tue", "wed", "thu", "fri", "sat" or "sun"`},
		{`"Sat" != weekdayIn("Europe/Paris")`, 0, `write "sat": weekdayIn gives "mon", "tue", "wed", "thu", "fri", "sat" or "sun"`},
		{`weekdayIn("UTC") in ["sat", "sunday"]`, 28, `write "sun": weekdayIn gives "mon", "tue", "wed", "thu", "fri", "sat" or "sun"`},
		{`weekdayIn("UTC") not in ["sa"]`, 25, `weekdayIn gives "mon", "tue", "wed", "thu", "fri", "sat" or "sun"`},
		{`weekdayIn("UTC") == "fri" || weekdayIn("UTC") in ["sat", "sun"]`, -1, ""},
		{`weekdayIn("UTC") == ctx.day`, -1, ""},
	}
	for _, tc := range cases {
		c := NewCompiler(Config{})
		_, errs := c.Compile(tc.src, KindCond, "test")
		if tc.off < 0 {
			if len(errs) > 0 {
				t.Errorf("%s: %+v", tc.src, errs)
			}
			continue
		}
		if len(errs) != 1 {
			t.Errorf("%s: errors %+v, want one", tc.src, errs)
			continue
		}
		if e := errs[0]; e.Offset != tc.off || e.Hint != tc.wantHint || !strings.Contains(e.Msg, "never") {
			t.Errorf("%s: error at %d %q (%s), want at %d (%s)", tc.src, e.Offset, e.Msg, e.Hint, tc.off, tc.wantHint)
		}
	}
}
