package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbiterhq/arbiter/adapters/profilestore"
	"github.com/arbiterhq/arbiter/adapters/redisconn"
	"github.com/arbiterhq/arbiter/engine"
	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/rules"
)

const profilesImportHelp = `Usage: arbiter profiles import --redis URL [--rules DIR] [--allow-extra] [--prefix P] [--merge] FILE.jsonl

Import customer profiles into Redis hashes (PREFIX profile:{ID}, one field per
attribute, every value a string). FILE.jsonl holds one JSON object per line
with "id" and the profile's fields, of at most 16 MiB; "-" reads standard
input. Blank lines and a UTF-8 byte order mark are skipped; lines may end
in CRLF.

With --rules, every profile is checked against the rules' profile schema and
stored normalised (times as RFC 3339 UTC, lists as JSON arrays); a profile
with a value of the wrong type, or with a field the schema does not declare
(a misspelt "last_order" for "last_order_at" would read as its default), is
rejected with a did-you-mean. --allow-extra stores such a profile without
the extra fields and prints a warning per line instead (for a data team's
export with more columns than the rules read). Without --rules, values are
stored as given.

Each profile replaces the stored one (use --merge to keep stored fields the
line does not set). Prints progress on a terminal and a summary at the end;
exit 1 if any line was rejected, 2 on a usage error.

Flags:
  --redis URL        Redis URL (redis://, rediss://, redis+cluster://, redis+sentinel://; default $ARBITER_REDIS_URL)
  --rules DIR        rules directory whose profile schema validates the profiles
  --prefix P         key prefix (default "arbiter:")
  --merge            merge into stored profiles instead of replacing them
  --allow-extra      with --rules: store profiles with fields the schema does not declare (dropped), with a warning
  --batch N          profiles per pipeline (default 500)
  --timeout D        time limit of each Redis operation (default 5s)
`

const profilesGetHelp = `Usage: arbiter profiles get --redis URL [--rules DIR] [--prefix P] CUSTOMER_ID

Show a stored profile as JSON: its key, the stored fields as they are, and,
with --rules, the profile as the rules' schema reads it (defaults filled in)
with the fields whose values do not parse ("bad_fields", read as missing).
Exit 1 when no profile is stored for the id, 2 on a usage error.

Flags:
  --redis URL        Redis URL (default $ARBITER_REDIS_URL)
  --rules DIR        rules directory whose profile schema decodes the profile
  --prefix P         key prefix (default "arbiter:")
  --timeout D        time limit of the Redis call (default 5s)
`

// profilesFlags are the flags both subcommands share.
type profilesFlags struct {
	*subcommand
	redisURL *string
	rulesDir *string
	prefix   *string
	timeout  *time.Duration
}

func newProfilesFlags(name, help string, s stdio) *profilesFlags {
	c := newSubcommand("arbiter "+name, "", s)
	c.help = func(w io.Writer) { fmt.Fprint(w, help) } // the flags are in the text
	return &profilesFlags{
		subcommand: c,
		redisURL:   c.fs.String("redis", os.Getenv("ARBITER_REDIS_URL"), "Redis URL"),
		rulesDir:   c.fs.String("rules", "", "rules directory"),
		prefix:     c.fs.String("prefix", profilestore.DefaultPrefix, "key prefix"),
		timeout:    c.fs.Duration("timeout", 5*time.Second, "Redis time limit"),
	}
}

// parse parses flags anywhere among the arguments and returns the
// positional ones; code >= 0 means stop with that exit code.
func (f *profilesFlags) parse(args []string) (pos []string, code int) {
	pos, code, ok := f.subcommand.parse(args)
	if !ok {
		return nil, code
	}
	if *f.redisURL == "" {
		return nil, f.usageErr("--redis URL is required (or set ARBITER_REDIS_URL)")
	}
	return pos, -1
}

func (f *profilesFlags) schema(s stdio, name string) (*rules.Schema, bool) {
	if *f.rulesDir == "" {
		return nil, true
	}
	rs, ok := loadRulesForCLI(s, "arbiter "+name, *f.rulesDir)
	if !ok {
		return nil, false
	}
	return &rs.Schema, true
}

func (f *profilesFlags) open(s stdio, name string, retries int) (redis.UniversalClient, bool) {
	c, err := redisconn.OpenWith(*f.redisURL, redisconn.Options{Timeout: *f.timeout, Retries: retries})
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter %s: %v\n", name, err)
		return nil, false
	}
	return c, true
}

// cmdProfilesImport imports a JSONL file of profiles into Redis.
func cmdProfilesImport(ctx context.Context, args []string, s stdio) int {
	const name = "profiles import"
	f := newProfilesFlags(name, profilesImportHelp, s)
	merge := f.fs.Bool("merge", false, "merge into stored profiles")
	batch := f.fs.Int("batch", 500, "profiles per pipeline")
	allowExtra := f.fs.Bool("allow-extra", false, "store profiles with fields not in the schema, with a warning")
	pos, code := f.parse(args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return f.usageErr(fmt.Sprintf("want one FILE.jsonl, got %d arguments", len(pos)))
	}
	if *batch <= 0 {
		return f.usageErr("--batch must be positive")
	}
	schema, ok := f.schema(s, name)
	if !ok {
		return exitFail
	}
	var in io.Reader = s.In
	if pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(s.Err, "arbiter %s: %v\n", name, err)
			return exitFail
		}
		defer file.Close()
		in = file
	}
	client, ok := f.open(s, name, 3)
	if !ok {
		return exitFail
	}
	defer client.Close()

	o := profilestore.ImportOptions{Prefix: *f.prefix, Schema: schema, Merge: *merge, Batch: *batch, AllowExtra: *allowExtra}
	const maxShown = 1000
	progress := isTerminal(s.Err)
	if progress {
		o.Progress = func(imported, rejected int) {
			fmt.Fprintf(s.Err, "\rimported %d, rejected %d", imported, rejected)
		}
	}
	res, err := profilestore.Import(ctx, client, in, o)
	if progress {
		fmt.Fprintln(s.Err)
	}
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter %s: %v (imported %d before)\n", name, err, res.Imported)
		return exitFail
	}
	for i, x := range res.Extra {
		if i == maxShown {
			fmt.Fprintf(s.Err, "warning: ... and %d more lines with fields the schema does not declare\n", len(res.Extra)-maxShown)
			break
		}
		fmt.Fprintf(s.Err, "warning: line %d: %s (stored without it)\n", x.Line, x.Why)
	}
	fmt.Fprintf(s.Out, "imported %d profiles, rejected %d\n", res.Imported, len(res.Rejected))
	for i, r := range res.Rejected {
		if i == maxShown {
			fmt.Fprintf(s.Out, "... and %d more rejected lines\n", len(res.Rejected)-maxShown)
			break
		}
		fmt.Fprintf(s.Out, "line %d: %s\n", r.Line, r.Why)
	}
	if len(res.Rejected) > 0 {
		return exitFail
	}
	return exitOK
}

// profileView is the JSON output of profiles get.
type profileView struct {
	Key       string            `json:"key"`
	Found     bool              `json:"found"`
	Fields    map[string]string `json:"fields"`
	Profile   map[string]any    `json:"profile,omitempty"`
	BadFields []string          `json:"bad_fields,omitempty"`
}

// cmdProfilesGet shows a stored profile and how the schema reads it.
func cmdProfilesGet(ctx context.Context, args []string, s stdio) int {
	const name = "profiles get"
	f := newProfilesFlags(name, profilesGetHelp, s)
	pos, code := f.parse(args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || pos[0] == "" {
		return f.usageErr(fmt.Sprintf("want one CUSTOMER_ID, got %d arguments", len(pos)))
	}
	id := pos[0]
	schema, ok := f.schema(s, name)
	if !ok {
		return exitFail
	}
	client, ok := f.open(s, name, 2)
	if !ok {
		return exitFail
	}
	defer client.Close()
	store := profilestore.NewRedisStore(client, profilestore.StoreOptions{Prefix: *f.prefix, Timeout: *f.timeout})
	fields, found, err := store.Fetch(ctx, id)
	if err != nil {
		fmt.Fprintf(s.Err, "arbiter %s: %v\n", name, err)
		return exitFail
	}
	v := profileView{Key: store.Key(id), Found: found, Fields: fields}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if schema != nil {
		var p = engine.DefaultProfile(schema, id)
		if found {
			p, v.BadFields = profiles.FromHash(schema, id, fields)
		}
		v.Profile = maps.Clone(p.AttrMap())
		v.Profile["id"], v.Profile["known"] = p.ID, p.Known
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(s.Err, "arbiter %s: %v\n", name, err)
		return exitFail
	}
	if !found {
		fmt.Fprintf(s.Err, "arbiter %s: no profile stored for %q (key %s)\n", name, id, v.Key)
		return exitFail
	}
	return exitOK
}
