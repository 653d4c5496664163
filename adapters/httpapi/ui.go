package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/arbiterhq/arbiter/wire"
)

// uiPrefix is where the console is served (Options.UI).
const uiPrefix = "/ui/"

// uiCSP keeps the console to its own assets and API: no CDN, no inline
// script.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'none'"

// uiFile is one asset of the console, read once at start.
type uiFile struct {
	body        []byte
	contentType string
	etag        string
}

// loadUI reads every file of fsys into memory (the console is a few
// dozen kilobytes), keyed by its path under /ui/.
func loadUI(fsys fs.FS) (map[string]*uiFile, error) {
	files := map[string]*uiFile{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // not every system's MIME table knows these
		case ".js", ".mjs":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		files[p] = &uiFile{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("httpapi: reading the console's assets: %w", err)
	}
	if files["index.html"] == nil {
		return nil, fmt.Errorf("httpapi: the console's assets have no index.html")
	}
	return files, nil
}

// serveUI serves GET /ui/...: the console's assets, which need no API key
// (their data does). "/ui" and "/" redirect to "/ui/".
func (s *Server) serveUI(ctx *fasthttp.RequestCtx) {
	p := string(ctx.Path())
	if p == "/" || p == "/ui" {
		// A relative Location, so that the browser stays on the scheme and
		// host it used (ctx.Redirect makes it absolute from the Host header,
		// over plain http: behind a proxy ending TLS, that left https).
		ctx.Response.Header.Set(fasthttp.HeaderLocation, uiPrefix)
		ctx.SetStatusCode(fasthttp.StatusFound)
		return
	}
	name := strings.TrimPrefix(p, uiPrefix)
	if name == "" {
		name = "index.html"
	}
	f := s.ui[name]
	if f == nil {
		s.writeError(ctx, fasthttp.StatusNotFound, wire.CodeNotFound,
			"the console has no file "+strings.ToValidUTF8(p, "?")+"; open /ui/", "")
		return
	}
	h := &ctx.Response.Header
	h.Set("ETag", f.etag)
	h.Set(fasthttp.HeaderCacheControl, "no-cache") // revalidate: a new binary's console is seen at once
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if string(ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch)) == f.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(f.contentType)
	ctx.SetBody(f.body)
}
