package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// TestMain lets the test binary run as the gateway itself, so crash tests
// can kill a real gateway process.
func TestMain(m *testing.M) {
	if os.Getenv("GATEWAYD_RUN_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// gatewayProcess starts the gateway as a child process on dataDir.
func gatewayProcess(t testing.TB, dir string) (base string, cmd *exec.Cmd) {
	t.Helper()
	return gatewayProcessWith(t, dir, writeConfig(t, dir))
}

// gatewayProcessWith starts a gateway process with a configuration file and extra environment.
func gatewayProcessWith(t testing.TB, dir, config string, env ...string) (base string, cmd *exec.Cmd) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-config", config)
	cmd.Env = append(append(os.Environ(), "GATEWAYD_RUN_AS_MAIN=1", "GATEWAY_DATA="+filepath.Join(dir, "data")), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return "http://" + waitListening(t, stdout), cmd
}

// TestKill9DuringIntakeLosesNothing kills the gateway with SIGKILL while
// reports pour in, at a random moment, again and again on the same data
// folder; every report it answered 202 must be there after each restart.
func TestKill9DuringIntakeLosesNothing(t *testing.T) {
	dir := t.TempDir()
	template := fixtures.Report("trio-wgs-denovo-positive")
	accepted := map[string]bool{}
	var mu sync.Mutex
	const rounds, posters = 8, 6
	for round := 0; round < rounds; round++ {
		base, cmd := gatewayProcess(t, dir)
		// Everything accepted in earlier rounds must have survived.
		mu.Lock()
		for id := range accepted {
			if r := get(t, base+"/v1/reports/"+id+"/fhir", operatorToken); r.status != http.StatusOK || len(r.body) < 1000 {
				t.Fatalf("round %d: report %s was answered 202 but is gone after kill -9 (%d)", round, id, r.status)
			}
		}
		mu.Unlock()

		var wg sync.WaitGroup
		for p := 0; p < posters; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				client := &http.Client{Timeout: 5 * time.Second}
				for n := 0; n < 10000; n++ { // bounded: the kill ends it long before
					id := fmt.Sprintf("CRASH-%d-%d-%d", round, p, n)
					req, _ := http.NewRequest(http.MethodPost, base+"/v1/reports", bytesReader(withID(t, template, id)))
					req.Header.Set("Authorization", "Bearer "+labToken)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						return // the gateway is gone
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						mu.Lock()
						accepted[id] = true
						mu.Unlock()
					}
				}
			}(p)
		}
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		wg.Wait()
	}
	base, _ := gatewayProcess(t, dir)
	for id := range accepted {
		if r := get(t, base+"/v1/reports/"+id, operatorToken); r.status != http.StatusOK {
			t.Fatalf("report %s was answered 202 but is gone after kill -9 (%d)", id, r.status)
		}
	}
	if len(accepted) < rounds {
		t.Fatalf("only %d reports were accepted over %d rounds: the test did not exercise intake", len(accepted), rounds)
	}
	t.Logf("%d reports accepted across %d kill -9 rounds; all present", len(accepted), rounds)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func execCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
