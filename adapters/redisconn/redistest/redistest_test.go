package redistest

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestStartServerTriesOtherPortsWhenOneIsTaken: a redis-server that exits
// before it answers (here: its cluster bus port is held by this test, as
// another test package's server or a connection may hold a port chosen
// free a moment before) is started again on fresh ports, and answers. The
// CI run of 8b31c93 failed when a cluster node's start found its port
// taken and the helper waited 10 s for a process that had exited.
func TestStartServerTriesOtherPortsWhenOneIsTaken(t *testing.T) {
	if ServerBinary() == "" {
		t.Skip("redis-server not found: install redis-server to run this test")
	}
	if out, err := exec.Command(ServerBinary(), "--version").Output(); err != nil || !strings.Contains(string(out), "v=7") && !strings.Contains(string(out), "v=8") {
		t.Skipf("needs redis-server 7 or later (--cluster-port): %s %v", out, err)
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
		bus := taken
		if calls > 1 {
			bus = FreePort(t)
		}
		return []string{"--cluster-enabled", "yes", "--cluster-config-file", t.TempDir() + "/nodes.conf",
			"--cluster-port", strconv.Itoa(bus)}
	})
	if calls != 2 {
		t.Fatalf("the arguments were asked for %d times, want 2 (a first start on the taken port, then one on fresh ports)", calls)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the server started on the second attempt does not answer: %v", err)
	}
}
