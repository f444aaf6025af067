// Package testredis starts private redis-server processes on loopback for
// tests that need a Redis of their own: one they may stop, restart or
// reconfigure without touching the shared test Redis.
package testredis

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Start runs redis-server on 127.0.0.1:port with its files in dir and the
// settings the gateway's no-loss promise depends on (appendonly yes,
// appendfsync everysec) and the README's rdbcompression no; extra
// arguments follow and win. It waits, in a bounded loop, until the server
// takes connections. The caller stops it (the process may be killed and
// started again mid-test); Server stops it at the test's end.
func Start(t testing.TB, dir string, port int, extra ...string) *os.Process {
	t.Helper()
	p := strconv.Itoa(port)
	args := append([]string{"--bind", "127.0.0.1", "--port", p, "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--rdbcompression", "no"}, extra...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server (.ci/ensure-deps installs it): %v", err)
	}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+p); err == nil {
			c.Close()
			return cmd.Process
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("redis-server did not start within 10 s")
	return nil
}

// Server starts a private Redis as Start does, on a free port in a fresh
// directory, stops it when the test ends, and returns its URL.
func Server(t testing.TB, extra ...string) string {
	t.Helper()
	port := FreePort(t)
	proc := Start(t, t.TempDir(), port, extra...)
	t.Cleanup(func() { proc.Kill(); proc.Wait() })
	return "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
}

// FreePort is a loopback TCP port free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
