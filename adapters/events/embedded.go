package events

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded starts an in-process NATS server with JetStream, listening on
// 127.0.0.1 on a free port, storing its streams under storeDir (a temporary
// directory is fine; an empty storeDir lets the server choose one). It
// returns the server's URL (nats://127.0.0.1:PORT) and a stop function that
// shuts the server down and waits for it; stop may be called more than once.
func Embedded(storeDir string) (url string, stop func(), err error) {
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
		// Streams of the embedded server live only as long as the process
		// that runs it; keep its memory use modest.
		JetStreamMaxMemory: 64 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return "", nil, fmt.Errorf("events: embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return "", nil, errors.New("events: embedded NATS server not ready within 10s")
	}
	var once sync.Once
	return srv.ClientURL(), func() {
		once.Do(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		})
	}, nil
}
