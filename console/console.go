// Package console is Arbiter's browser console: plain HTML, CSS and
// JavaScript modules (no build step, no CDN), embedded in the binary.
// adapters/httpapi serves Assets at /ui/; the pages read the API (GET
// /v1/rules, /v1/experiments, /v1/budgets, /v1/learning, /v1/profiles/{id}
// and dry runs of POST /v1/decide) from the browser. docs/console.md
// describes the pages.
package console

import (
	"embed"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// Assets returns the console's files, rooted at the directory served as
// /ui/ (index.html at its top).
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil { // only a wrong constant gets here
		panic("console: " + err.Error())
	}
	return sub
}
