// Package redact hides secrets in text that may reach a log line or an
// answer: the passwords of URLs (redis://user:PASSWORD@host,
// nats://TOKEN@host), the values of credential headers (Authorization,
// Cookie, ...) and bearer tokens, and the raw bytes of a request that the
// HTTP server could not read (fasthttp puts them in its error messages).
// It is pure: strings in, strings out.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces a secret.
const Mask = "xxxxx"

var (
	// scheme://userinfo@ : the userinfo ends at the last @ before the
	// host's path, query or the end of the URL (a password may hold @).
	userinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#"'\\<>]*)@`)
	// ?password=... in a query
	queryRE = regexp.MustCompile(`(?i)([?&](?:[a-z_]*password|pass|pwd|token|secret|auth|api_key|apikey|key)=)[^&\s"'\\#]*`)
	// a credential header, in a raw request or quoted in an error message
	headerRE = regexp.MustCompile(`(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token)(\s*[:=]\s*)[^\r\n"\\]*`)
	// a token after its scheme, wherever it appears
	tokenRE = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)[^\s"\\,;]+`)
	// a double-quoted piece of text, with its escapes
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// a quoted network address: "127.0.0.1:8080", "[::1]:8080"
	addrRE = regexp.MustCompile(`^"[0-9A-Fa-f.:\[\]]*"$`)
)

// URL returns raw with the secrets of its userinfo hidden: the password
// of user:password (user:xxxxx), a lone user part (NATS reads it as a
// token: xxxxx), and credentials in its query. It works on lists of URLs
// (nats://a:p@h1,nats://a:p@h2), on multi-host URLs and on URLs that do
// not parse.
func URL(raw string) string {
	return Text(raw)
}

// Text hides every secret it recognises in free text: URL passwords,
// credential header values and bearer tokens.
func Text(s string) string {
	if s == "" {
		return s
	}
	s = userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfoRE.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if info == "" {
			return m
		}
		if i := strings.IndexByte(info, ':'); i >= 0 {
			return scheme + info[:i+1] + Mask + "@"
		}
		return scheme + Mask + "@"
	})
	s = queryRE.ReplaceAllString(s, "${1}"+Mask)
	s = headerRE.ReplaceAllString(s, "${1}${2}"+Mask)
	s = tokenRE.ReplaceAllString(s, "${1}${2}"+Mask)
	return s
}

// HTTPError returns the message of an error the HTTP server met reading a
// request, without any of the request's bytes: fasthttp appends
// "buffer size=N, contents: <the raw request>" and quotes pieces of it
// ("missing colon: \"<the header line>\""), any of which may hold an API
// key. What is left says what was wrong (cannot parse content-length,
// missing colon, ...); quoted pieces other than network addresses become
// "…".
func HTTPError(msg string) string {
	if i := strings.Index(msg, ", contents: "); i >= 0 {
		msg = msg[:i]
	}
	msg = quotedRE.ReplaceAllStringFunc(msg, func(q string) string {
		if addrRE.MatchString(q) {
			return q
		}
		return `"…"`
	})
	// an unterminated quote runs to the end: drop it
	if strings.Count(msg, `"`)%2 == 1 {
		msg = msg[:strings.LastIndexByte(msg, '"')] + `"…"`
	}
	return Text(msg)
}
