// Package eventstest gives tests a NATS server with JetStream: the real one
// named by ARBITER_TEST_NATS_URL when set, else an embedded one (the
// default `arbiter serve` runs) that stops when the test ends; and subject
// prefixes of the test's own, whose stream and rulesets' object store are
// deleted when the test ends, so that tests on the shared real server
// leave nothing behind.
//
// It is redistest's counterpart for NATS. The in-package tests of events
// (package events) keep helpers of their own: they cannot import a
// package that imports events.
package eventstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/events"
)

// EnvURL names the environment variable with the real NATS server's URL.
const EnvURL = "ARBITER_TEST_NATS_URL"

// URL returns the URL of the NATS server the test uses: the real one of
// ARBITER_TEST_NATS_URL (real is true), else an embedded server with
// JetStream, stopped when the test ends. Tests on the real server share
// it: give each its own subject prefix (Prefix).
func URL(t testing.TB) (url string, real bool) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u, true
	}
	u, stop, err := events.Embedded(t.TempDir())
	if err != nil {
		t.Fatalf("embedded NATS server: %v", err)
	}
	t.Cleanup(stop)
	return u, false
}

// Prefix returns a subject prefix of the test's own, name followed by an
// underscore and twelve random hex digits (a valid NATS token, and a
// stream name once upper-cased). When the test ends, the prefix's stream
// (events.StreamName) and its rulesets' object store
// (events.RulesetsBucketName) are deleted from the server at url, if they
// were made; a server gone by then is left alone.
func Prefix(t testing.TB, url, name string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := name + "_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { remove(url, prefix) })
	return prefix
}

// JetStream connects to the NATS server at url for the test's own reads
// and writes; the connection closes when the test ends.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("connect to NATS at %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// remove deletes the stream and the rulesets' object store of prefix on
// the server at url, ignoring what is not there or a server gone.
func remove(url, prefix string) {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = js.DeleteStream(ctx, events.StreamName(prefix))
	_ = js.DeleteObjectStore(ctx, events.RulesetsBucketName(prefix))
}
