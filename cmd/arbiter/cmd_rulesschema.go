package main

import (
	"context"
	"fmt"

	"github.com/arbiterhq/arbiter/rules"
)

const rulesSchemaHelp = `Usage: arbiter rules schema

Prints the JSON Schema (draft 2020-12) of one rule file: every key that
"arbiter rules check" accepts, with its type, allowed values and a
description, generated from the loader's own key table. Editors use it to
complete and check keys as you type (docs/rules.md, "Editor support"); the
repository keeps it as docs/rules.schema.json:

  go run ./cmd/arbiter rules schema > docs/rules.schema.json

Flags:
`

// cmdRulesSchema runs `arbiter rules schema`.
func cmdRulesSchema(_ context.Context, args []string, s stdio) int {
	c := newSubcommand("arbiter rules schema", rulesSchemaHelp, s)
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return c.usageErr(fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	_, _ = s.Out.Write(rules.JSONSchema())
	return exitOK
}
