package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/adapters/redisconn/redistest"
	"github.com/arbiterhq/arbiter/wire"
)

// testNATS returns the URL of the NATS server the test uses: the real one
// of ARBITER_TEST_NATS_URL, else an embedded one.
func testNATS(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("ARBITER_TEST_NATS_URL"); u != "" {
		return u
	}
	url, stop, err := Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// testPrefix returns a subject prefix of the test's own, and deletes its
// stream when the test ends.
func testPrefix(t *testing.T, url string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "arbtest_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, StreamName(prefix))
	})
	return prefix
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// poll polls cond until it holds (true) or d has passed (false).
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
	return true
}

// freePort returns a TCP port free on 127.0.0.1 now, below the kernel's
// ephemeral range where it can (redistest.FreePort): a nats-server this
// test starts on it later finds it still free.
func freePort(t *testing.T) int { return redistest.FreePort(t) }

// natsProc is a nats-server process the test starts and stops itself.
type natsProc struct {
	t    *testing.T
	port int
	dir  string
	js   bool
	cmd  *exec.Cmd
}

func newNATSProc(t *testing.T, js bool) *natsProc {
	t.Helper()
	bin := "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		p, err := exec.LookPath("nats-server")
		if err != nil {
			t.Skip("no nats-server binary")
		}
		bin = p
	}
	_ = bin
	p := &natsProc{t: t, port: freePort(t), dir: t.TempDir(), js: js}
	t.Cleanup(p.stop)
	return p
}

func (p *natsProc) url() string { return "nats://127.0.0.1:" + strconv.Itoa(p.port) }

func (p *natsProc) start() {
	p.t.Helper()
	bin := "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		bin, _ = exec.LookPath("nats-server")
	}
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(p.port)}
	if p.js {
		args = append(args, "-js", "-sd", p.dir)
	}
	p.cmd = exec.Command(bin, args...)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	waitFor(p.t, 10*time.Second, "nats-server to accept connections", func() bool {
		nc, err := nats.Connect(p.url(), nats.Timeout(200*time.Millisecond))
		if err != nil {
			return false
		}
		defer nc.Close()
		if !p.js {
			return true
		}
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
		return err == nil
	})
}

func (p *natsProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// coreServer starts an in-process NATS server without JetStream.
func coreServer(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("core server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

// readStream returns every message of the prefix's stream matching filter,
// in stream order.
func readStream(t *testing.T, url, prefix, filter string) []jetstream.Msg {
	t.Helper()
	js := testJetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := untilAnswered(ctx, func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, StreamName(prefix)) })
	if err != nil {
		t.Fatal(err)
	}
	info, err := untilAnswered(ctx, func(ctx context.Context) (*jetstream.StreamInfo, error) {
		return st.Info(ctx, jetstream.WithSubjectFilter(filter))
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := untilAnswered(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	if info.State.Msgs == 0 {
		return out
	}
	err = readToEnd(ctx, c, info.State.LastSeq, readLimits{idle: readIdle, patience: apiPatience}, func(m jetstream.Msg, _ *jetstream.MsgMetadata) { out = append(out, m) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decisionEvent is the message of the i-th test decision; segments, if
// any, are its segments.
func decisionEvent(i int, segments ...string) *wire.Message {
	e := &wire.DecisionEvent{
		Type: "decision", ID: "dcs_" + strconv.Itoa(100000+i), TS: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		CustomerID: "c-" + strconv.Itoa(i), Placement: "checkout", Ruleset: "abc",
		Segments: append([]string{}, segments...), Experiments: []wire.Assignment{}, Actions: []wire.EventAction{}, Degraded: []string{},
	}
	m, err := e.Message()
	if err != nil {
		panic(err)
	}
	m.Exposure = exposureOf(m.JSON)
	return m
}

// exposureOf is the exposure header of a decision event decisionEvent
// made ("" for another message): its customer_id, no experiments, no
// holdout, as wire.AppendExposure writes them.
func exposureOf(data []byte) string {
	var e struct {
		Type       string `json:"type"`
		CustomerID string `json:"customer_id"`
	}
	if json.Unmarshal(data, &e) != nil || e.Type != "decision" {
		return ""
	}
	return `{"customer_id":"` + e.CustomerID + `","experiments":[],"holdout":false}`
}

// testJetStream connects to the NATS server at url for the test's own
// reads and writes; the connection closes when the test ends.
func testJetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
