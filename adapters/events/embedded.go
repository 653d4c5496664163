package events

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedAckTimeout is the ack timeout to give a publisher to an embedded
// server (Options.AckTimeout): the server runs in the publisher's process,
// where an acknowledgement takes well under a millisecond, and even a
// collection's mark (100-200 ms in scenario a) or a stall of the whole
// process rarely holds it a second.
const EmbeddedAckTimeout = time.Second

// EmbeddedDuplicates is the deduplication window to give a stream on an
// embedded server (Options.Duplicates). The server runs in the publisher's
// process and keeps its table of recent ids in that process's heap, two
// objects and about 90 bytes an id (BenchmarkPublishEmbedded's
// live-B/event), which every collection marks: at 16,000 events a second
// a window of 10 s held 160,000 ids, a third of the heap's objects, and
// this one's 2 s made scenario a's marks 17% shorter (BENCHMARKS.md, issue
// 19). The in-process connection does not drop, so an event is sent again
// only after an acknowledgement it waited for did not come within
// EmbeddedAckTimeout (the events sent with it went in the same burst, just
// before it): twice that covers the resend.
const EmbeddedDuplicates = 2 * EmbeddedAckTimeout

// EmbeddedNATS is an in-process NATS server with JetStream, made by
// StartEmbedded (the zero value is not usable).
type EmbeddedNATS struct {
	// URL is the server's client URL (nats://127.0.0.1:PORT), for other
	// processes and for the connections that are not in-process.
	URL  string
	srv  *server.Server
	once sync.Once
}

// StartEmbedded starts an in-process NATS server with JetStream, listening
// on 127.0.0.1 on a free port, storing its streams under storeDir (a
// temporary directory is fine; an empty storeDir lets the server choose
// one).
func StartEmbedded(storeDir string) (*EmbeddedNATS, error) {
	return StartEmbeddedWith(EmbeddedOptions{StoreDir: storeDir})
}

// EmbeddedOptions configure StartEmbeddedWith.
type EmbeddedOptions struct {
	// StoreDir is where file-stored streams live (empty: the server
	// chooses a temporary directory).
	StoreDir string
	// MaxMemory is what the server's memory-stored streams may hold in
	// all, on top of a 64 MiB reserve for other ones (0: the reserve).
	MaxMemory int64
}

// StartEmbeddedWith starts an in-process NATS server with JetStream as
// StartEmbedded does, with o.
func StartEmbeddedWith(o EmbeddedOptions) (*EmbeddedNATS, error) {
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  o.StoreDir,
		NoLog:     true,
		NoSigs:    true,
		// Streams of the embedded server live only as long as the process
		// that runs it; keep its memory use modest.
		JetStreamMaxMemory: 64<<20 + max(o.MaxMemory, 0),
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("events: embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("events: embedded NATS server not ready within 10s")
	}
	return &EmbeddedNATS{URL: srv.ClientURL(), srv: srv}, nil
}

// InProcessConn returns a connection to the server that does not go
// through a socket (nats.InProcessConnProvider; see Options.InProcess).
func (e *EmbeddedNATS) InProcessConn() (net.Conn, error) { return e.srv.InProcessConn() }

// Stop shuts the server down and waits for it; it may be called more than
// once.
func (e *EmbeddedNATS) Stop() {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}

// Embedded starts an embedded server as StartEmbedded does, and returns
// its URL and its Stop.
func Embedded(storeDir string) (url string, stop func(), err error) {
	e, err := StartEmbedded(storeDir)
	if err != nil {
		return "", nil, err
	}
	return e.URL, e.Stop, nil
}
