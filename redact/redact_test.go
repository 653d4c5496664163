package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://user:s3cret@127.0.0.1:6379/0", "redis://user:xxxxx@127.0.0.1:6379/0"},
		{"redis://:s3cret@h:6379", "redis://:xxxxx@h:6379"},
		{"rediss://default:p@ss:w0rd@h:6380", "rediss://default:xxxxx@h:6380"},
		{"redis+cluster://u:s3cret@h1:7000,h2:7001", "redis+cluster://u:xxxxx@h1:7000,h2:7001"},
		{"redis+sentinel://u:s3cret@h1:26379,h2:26379/mymaster?sentinel_password=s3cret2", "redis+sentinel://u:xxxxx@h1:26379,h2:26379/mymaster?sentinel_password=xxxxx"},
		{"nats://arb:s3cret@h:4222,nats://arb:s3cret@h2:4222", "nats://arb:xxxxx@h:4222,nats://arb:xxxxx@h2:4222"},
		{"nats://s3cret-token@h:4222", "nats://xxxxx@h:4222"},
		{"redis://h:6379/0?password=s3cret&db=1", "redis://h:6379/0?password=xxxxx&db=1"},
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379"},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"", ""},
		{"not a url", "not a url"},
		{"redis//u:s3cret@h", "redis//u:s3cret@h"}, // not a URL: nothing to recognise (see TestText for text around URLs)
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	const key = "k-3f9a1c"
	for _, in := range []string{
		"Authorization: Bearer " + key,
		"authorization:Bearer " + key + "\r\nHost: a",
		`"GET / HTTP/1.1\r\nAuthorization: Bearer ` + key + `\r\n"`,
		"Proxy-Authorization: Basic " + key,
		"Cookie: session=" + key,
		"X-Api-Key: " + key,
		"connect to redis://u:" + key + "@h:1 failed",
		`dial "nats://u:` + key + `@h:4222": refused`,
	} {
		if got := Text(in); strings.Contains(got, key) {
			t.Errorf("Text(%q) = %q: the secret shows", in, got)
		}
	}
	if got := Text("Authorization: Bearer " + key); got != "Authorization: xxxxx" {
		t.Errorf("%q", got)
	}
}

func TestHTTPError(t *testing.T) {
	const key = "k-3f9a1c"
	for _, tc := range []struct{ in, want string }{
		{`error when reading request headers: cannot parse content-length: unexpected first char found: expecting 0-9: buffer size=104, contents: "POST /v1/decide HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ` + key + `\r\nContent-Length: abc\r\n\r\n{}"`,
			`error when reading request headers: cannot parse content-length: unexpected first char found: expecting 0-9: buffer size=104`},
		{`error when reading request headers: malformed mime header: missing colon: "Authorization Bearer ` + key + `": buffer size=110, contents: "GET`,
			`error when reading request headers: malformed mime header: missing colon: "…": buffer size=110`},
		{`error when serving connection "127.0.0.1:8080"<->"127.0.0.1:5555": unsupported http version "HTCPCP/1.0" in "BREW ` + key + ` HTCPCP/1.0\r\n": buffer size=84, contents: "BREW`,
			`error when serving connection "127.0.0.1:8080"<->"127.0.0.1:5555": unsupported http version "…" in "…": buffer size=84`},
		{`unterminated "GET /` + key, `unterminated "…"`},
	} {
		got := HTTPError(tc.in)
		if got != tc.want {
			t.Errorf("HTTPError(%q)\n= %q\nwant %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, key) {
			t.Errorf("the secret shows: %q", got)
		}
	}
}
