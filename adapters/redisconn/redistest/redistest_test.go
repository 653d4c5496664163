package redistest

import (
	"net"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestStartServerTriesOtherPortsWhenOneIsTaken: a redis-server that exits
// before it answers (here: its first start is sent to a port this test
// holds, as another test package's server or a connection may hold a port
// chosen free a moment before) is started again on fresh ports, and
// answers. The CI run of 8b31c93 failed when a cluster node's start found
// its port taken and the helper waited 10 s for a process that had exited.
func TestStartServerTriesOtherPortsWhenOneIsTaken(t *testing.T) {
	if ServerBinary() == "" {
		t.Skip("redis-server not found: install redis-server to run this test")
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().(*net.TCPAddr).Port
	calls := 0
	s := startServer(t, func() []string {
		calls++
		if calls == 1 {
			return []string{"--port", strconv.Itoa(taken)} // the last --port is the one redis-server takes
		}
		return nil
	})
	if calls != 2 {
		t.Fatalf("the arguments were asked for %d times, want 2 (a first start on the taken port, then one on fresh ports)", calls)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if pid, err := serverPID(c); err != nil || pid != s.cmd.Process.Pid {
		t.Fatalf("the server at %s is process %d (%v), not the one started (%d)", s.Addr, pid, err, s.cmd.Process.Pid)
	}
}
