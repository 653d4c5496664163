package main

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOperationsFlagTable compares the flag table of docs/operations.md
// ("Flags and environment") with serve's real flags: every flag of serve
// is in the table and every row names a real flag, with its environment
// variable and its default.
func TestOperationsFlagTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Flags and environment")
	if !ok {
		t.Fatal(`docs/operations.md has no "## Flags and environment"`)
	}
	_, table, _ := strings.Cut(section, "| flag |") // the table, from its header to the first blank line
	table, _, _ = strings.Cut(table, "\n\n")
	row := regexp.MustCompile("^\\| (?:`--([a-z-]+)[^`]*`|\\(none\\)) \\| `(ARBITER_[A-Z_]+)` \\|([^|]*)\\|")
	firstCode := regexp.MustCompile("`([^`]*)`")

	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	newServeFlags(fs, &cfg)
	documented := map[string]bool{}
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `--") && !strings.HasPrefix(line, "| (none)") {
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("a row of the flag table does not read as | `--flag ARG` | `ARBITER_VAR` | default | what |: %.80s", line)
			continue
		}
		rows++
		name, env, def := m[1], m[2], strings.TrimSpace(m[3])
		if name == "" {
			if env != "ARBITER_API_KEYS" {
				t.Errorf("%s: a variable without a flag; only ARBITER_API_KEYS is", env)
			}
			continue
		}
		documented[name] = true
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("--%s is in docs/operations.md, but serve has no such flag", name)
			continue
		}
		if serveEnv[name] != env {
			t.Errorf("--%s: the docs say %s, serve reads %q", name, env, serveEnv[name])
		}
		// The default: the first `code` of the column, set on a fresh flag
		// set and printed back, so that 1h and 1h0m0s, 64KiB and 65536 compare
		// equal; words for an empty default (embedded, off, random, ...).
		want := f.DefValue
		if c := firstCode.FindStringSubmatch(def); c != nil {
			fresh := flag.NewFlagSet("serve", flag.ContinueOnError)
			var cfg2 serveConfig
			newServeFlags(fresh, &cfg2)
			if err := fresh.Set(name, c[1]); err != nil {
				t.Errorf("--%s: the documented default %q does not parse: %v", name, c[1], err)
				continue
			}
			if got := fresh.Lookup(name).Value.String(); got != want {
				t.Errorf("--%s: the docs say the default is %s, serve's is %s", name, c[1], want)
			}
			continue
		}
		switch def {
		case "", "embedded", "off", "random", "(required)":
			if want != "" && want != "false" {
				t.Errorf("--%s: the docs say the default is %q (none), serve's is %s", name, def, want)
			}
		case "false", "true":
			if want != def {
				t.Errorf("--%s: the docs say the default is %s, serve's is %s", name, def, want)
			}
		default:
			t.Errorf("--%s: the default %q is neither `code` nor a known word", name, def)
		}
	}
	if rows < 10 {
		t.Fatalf("read %d rows of the flag table: the test no longer finds it", rows)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !documented[f.Name] {
			t.Errorf("serve's --%s is not in the flag table of docs/operations.md", f.Name)
		}
	})
}
