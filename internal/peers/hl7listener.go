package peers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// HL7Listener starts the third-party HL7 v2 MLLP listener (a stand-in
// legacy EPR) on a free loopback port, stops it when the test ends, and
// returns its address and a function reading the messages it has logged.
// The listener logs after it acknowledges, so callers wait with
// WaitLogged rather than reading once.
func HL7Listener(t testing.TB) (addr string, logged func() []map[string]any) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	logFile := filepath.Join(t.TempDir(), "hl7.jsonl")
	cmd := Command(t, "hl7-listener", "--port", port, "--log", logFile, "--quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr = "127.0.0.1:" + port
	for i := 0; ; i++ { // a loaded machine may take seconds to start Python
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 400 {
			t.Fatal("hl7-listener did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, func() []map[string]any {
		raw, _ := os.ReadFile(logFile)
		var out []map[string]any
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				out = append(out, line)
			}
		}
		return out
	}
}

// WaitLogged polls logged until it holds at least n messages or a generous
// bound passes, and returns what it last read.
func WaitLogged(logged func() []map[string]any, n int) []map[string]any {
	var got []map[string]any
	for try := 0; try < 400; try++ {
		if got = logged(); len(got) >= n {
			return got
		}
		time.Sleep(25 * time.Millisecond)
	}
	return got
}
