package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/profiles"
	"github.com/arbiterhq/arbiter/ruletest"
	"github.com/arbiterhq/arbiter/wire"
)

const decideHelp = `Usage: arbiter decide --rules DIR --profile FILE.json [--request FILE.json] [--now RFC3339] [--allow-extra]

An offline decision with its explanation: what would this customer get, and
why. Prints the /v1/decide response as indented JSON, with "explain". It is
always a dry run on an in-memory ledger: nothing is consumed, nothing is
published, Redis and NATS are not used.

  --profile   the customer, in the JSON form of a profile: {"id": "c-1042",
              "ltv": 1500, "last_order_at": "2026-11-01T00:00:00Z", ...}; a
              field the rules' profile schema does not declare is an error
              (FILE:LINE:COL, with a did-you-mean)
  --allow-extra  read such fields as a warning instead, and ignore them
  --request   a /v1/decide body (default {}: placement "default", no cart);
              its customer_id, if any, must be the profile's id
  --now       the decision's time (default: the request's "now", else the
              current time)

Exit status: 0 on a decision, 1 on an error (files, JSON, rules), 2 on a
usage error.

Flags:
`

// cmdDecide runs `arbiter decide`.
func cmdDecide(ctx context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter decide", decideHelp, s)
	fs := c.fs
	rulesDir := fs.String("rules", "", "the rules directory (required)")
	profileFile := fs.String("profile", "", "the customer's profile, a JSON file (required)")
	requestFile := fs.String("request", "", "a /v1/decide body, a JSON file (default {})")
	nowFlag := fs.String("now", "", "the decision's time, RFC 3339 (default: now)")
	allowExtra := fs.Bool("allow-extra", false, "ignore profile fields the schema does not declare, with a warning")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	var now time.Time
	var err error
	switch {
	case len(pos) > 0:
		err = fmt.Errorf("unexpected argument %q (the rules directory goes in --rules)", pos[0])
	case *rulesDir == "":
		err = errors.New("--rules DIR is required")
	case *profileFile == "":
		err = errors.New("--profile FILE.json is required")
	case *nowFlag != "":
		now, err = time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			err = fmt.Errorf("--now %q: write an RFC 3339 time, e.g. 2026-11-28T12:00:00+08:00", *nowFlag)
		}
	}
	if err != nil {
		return c.usageErr(err.Error())
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(s.Err, "arbiter decide: "+format+"\n", a...)
		return exitFail
	}

	profileBody, err := os.ReadFile(*profileFile)
	if err != nil {
		return fail("--profile: %v", err)
	}
	var profile map[string]any
	if msg := decodeJSONObject(profileBody, &profile); msg != "" {
		return fail("%s: %s", *profileFile, msg)
	}
	var requestBody []byte
	if *requestFile != "" {
		requestBody, err = os.ReadFile(*requestFile)
		if err != nil {
			return fail("--request: %v", err)
		}
	}

	rs, ok := loadRulesForCLI(s, "arbiter decide", *rulesDir)
	if !ok {
		return exitFail
	}
	if extra := profiles.Unknown(&rs.Schema, profile); len(extra) > 0 {
		for _, e := range extra {
			line, col := jsonKeyPos(profileBody, e.Field)
			msg := fmt.Sprintf("%s:%d:%d: %s", *profileFile, line, col, e.Error())
			if *allowExtra {
				fmt.Fprintf(s.Err, "arbiter decide: warning: %s (ignored)\n", msg)
			} else {
				fmt.Fprintf(s.Err, "arbiter decide: %s\n", msg)
			}
		}
		if !*allowExtra {
			fmt.Fprintf(s.Err, "arbiter decide: fix the field names, or pass --allow-extra to ignore fields the rules do not read\n")
			return exitFail
		}
	}
	req, p, err := ruletest.PrepareJSON(rs, profile, requestBody)
	if err != nil {
		var we *wire.Error
		switch {
		case errors.As(err, &we):
			return fail("%s: %s (%s)", *requestFile, we.Error(), we.Code)
		case strings.HasPrefix(err.Error(), "profile: "):
			return fail("%s: %s", *profileFile, strings.TrimPrefix(err.Error(), "profile: "))
		}
		return fail("%v", err)
	}
	switch {
	case !now.IsZero():
		req.Now = now
	case req.Now.IsZero():
		req.Now = time.Now()
	}
	start := time.Now()
	d, err := ruletest.NewEngine().Decide(ctx, rs, p, req)
	if err != nil {
		return fail("%v", err)
	}
	d.TookUS = time.Since(start).Microseconds()
	var out bytes.Buffer
	if err := json.Indent(&out, wire.AppendDecision(nil, d), "", "  "); err != nil {
		return fail("writing the decision: %v", err)
	}
	out.WriteByte('\n')
	if _, err := s.Out.Write(out.Bytes()); err != nil {
		return fail("%v", err)
	}
	return exitOK
}

// decodeJSONObject decodes a JSON object (numbers kept exact as
// json.Number) and says what is wrong, with line and column, if it is not
// one.
func decodeJSONObject(body []byte, v *map[string]any) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return "more than one JSON value: the file must hold one object"
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil && *v == nil:
		return "must be a JSON object, not null"
	case err == nil:
		return ""
	case errors.Is(err, io.EOF):
		return "the file is empty: write a JSON object"
	case errors.As(err, &se):
		line, col := offsetLineCol(body, int(se.Offset)-1)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		return fmt.Sprintf("must be a JSON object, not a JSON %s", te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early (a missing '}', ']' or '\"'?)"
	}
	return err.Error()
}

// jsonKeyPos is the line and column of key in the top-level object of the
// JSON document body (1, 1 when it is not found).
func jsonKeyPos(body []byte, key string) (line, col int) {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth := 0
	expectKey := false
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return 1, 1
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
				expectKey = t == '{' && depth == 1
			} else {
				depth--
				expectKey = depth == 1
			}
			continue
		case string:
			if depth == 1 && expectKey && t == key {
				// before is where the previous token ended: skip the
				// separator and blanks up to the key's quote
				off := int(before)
				for off < len(body) && body[off] != '"' {
					off++
				}
				return offsetLineCol(body, off)
			}
		}
		if depth == 1 {
			expectKey = !expectKey
		}
	}
}

func offsetLineCol(b []byte, off int) (line, col int) {
	off = max(0, min(off, len(b)))
	line = 1 + bytes.Count(b[:off], []byte{'\n'})
	col = off - (bytes.LastIndexByte(b[:off], '\n') + 1) + 1
	return line, col
}
