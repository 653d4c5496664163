package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// rawHTTP sends raw bytes on a fresh connection and returns everything the
// server answers until it closes the connection or 3 s pass.
func rawHTTP(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// TestSecretsNeverShown runs the real binary with secrets everywhere (an
// API key, a Redis URL and a NATS URL with passwords), sends it malformed
// requests that carry the key (Content-Length: abc, a header line without
// a colon, ...) and good ones, stops it, and greps every log line and every
// answer for the secrets: none may appear.
func TestSecretsNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const (
		apiKey    = "APIKEY-s3cr3t-9f2d71"
		redisPass = "REDISPASS-s3cr3t-4a8c"
		natsPass  = "NATSPASS-s3cr3t-7e1b"
	)
	mr := miniredis.RunT(t)
	mr.RequireUserAuth("arb", redisPass)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		Username: "arb", Password: natsPass, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	natsHostPort := strings.TrimPrefix(ns.ClientURL(), "nats://")

	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	copyDir(t, "testdata/e2e/rules", rulesDir)
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, []byte(apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "arbiter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	base := "http://" + addr
	var logs syncBuffer
	cmd := exec.Command(bin, "serve", "--rules", rulesDir, "--addr", addr, "--api-keys-file", keys,
		"--redis", "redis://arb:"+redisPass+"@"+mr.Addr(), "--nats", "nats://arb:"+natsPass+"@"+natsHostPort,
		"--log-format", "json", "--log-level", "debug", "--shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), "ARBITER_API_KEYS=", "ARBITER_REDIS_URL=", "ARBITER_NATS_URL=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	poll(t, "GET /readyz", 60*time.Second, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("serve exited early: %v\n%s", err, logs.String())
		default:
		}
		code, _, err := getJSON(base + "/readyz")
		return err == nil && code == 200
	})

	auth := "Authorization: Bearer " + apiKey + "\r\n"
	var answers []string
	bad := []string{
		"POST /v1/decide HTTP/1.1\r\nHost: a\r\n" + auth + "Content-Length: abc\r\n\r\n{}",
		"GET /v1/rules HTTP/1.1\r\nHost: a\r\n" + auth + "a header line without a colon\r\n\r\n",
		"GET /v1/rules HTTP/1.1\r\nHost: a\r\nno colon\r\n" + auth + "\r\n",
		"POST /v1/decide HTTP/1.1\r\nHost: a\r\n" + auth + "Content-Length: -5\r\n\r\n",
		"POST /v1/decide HTTP/1.1\r\nHost: a\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + apiKey + "\r\n0\r\n\r\n",
		"GET /v1/rules HTTP/1.1\r\nHost: a\r\n" + auth + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"GET /v1/rules?key=x HTTP/9.9\r\n" + auth + "\r\n",
		"BREW " + apiKey + " HTCPCP/1.0\r\n" + auth + "\r\n",
		"GET /v1/rules HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + apiKey + "x\r\n\r\n", // a wrong key
		"GET /v1/rules HTTP/1.1\r\nHost: a\r\n" + auth + "Connection: close\r\n\r\n",
		"GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	}
	for _, raw := range bad {
		answers = append(answers, rawHTTP(t, addr, raw))
	}
	if !strings.HasPrefix(answers[0], "HTTP/1.1 400") || !strings.HasPrefix(answers[1], "HTTP/1.1 400") {
		t.Errorf("malformed requests: %q / %q, want 400", answers[0], answers[1])
	}
	// what was wrong is still said
	if !strings.Contains(answers[0], "content-length") || !strings.Contains(answers[1], "missing colon") {
		t.Errorf("the 400s do not say what was wrong: %q / %q", answers[0], answers[1])
	}
	if !strings.HasPrefix(answers[9], "HTTP/1.1 200") {
		t.Errorf("a good request: %q", answers[9])
	}
	req, _ := http.NewRequest("POST", base+"/v1/decide", strings.NewReader(`{"customer_id": "c-1", "placement": "checkout"}`))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if res, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		answers = append(answers, string(b))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit within 30s of SIGTERM")
	}
	all := logs.String() + "\n" + strings.Join(answers, "\n")
	for _, secret := range []string{apiKey, redisPass, natsPass} {
		for _, line := range strings.Split(all, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("the secret %s shows: %s", secret, line)
			}
		}
	}
	if !strings.Contains(logs.String(), "missing colon") || !strings.Contains(logs.String(), `redis://arb:xxxxx@`) {
		t.Errorf("the log does not say what was wrong, or hides the URLs entirely:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "arbiter serving") {
		t.Errorf("no start-up line in the log:\n%s", logs.String())
	}
}
