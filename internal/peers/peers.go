// Package peers finds and starts the third-party test peers in ../shared/peers
// for integration tests. Tests skip with a clear message when ../shared is
// absent (a user's clone); CI always has it.
package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the absolute path of shared/peers, or skips the test.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "peers")
	if _, err := os.Stat(filepath.Join(dir, "run")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have ../shared/peers beside the project: %v", err)
		}
		t.Skipf("third-party peers not found at %s (../shared is absent in this clone): skipping", dir)
	}
	return dir
}

// Command returns an exec.Cmd running the named peer with args.
func Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(filepath.Join(Dir(t), "run"), append([]string{name}, args...)...)
}

// DataDir returns the absolute path of shared/data (public sample data:
// HL7 v2 messages, IG examples), or skips the test as Dir does.
func DataDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have ../shared/data beside the project: %v", err)
		}
		t.Skipf("public sample data not found at %s (../shared is absent in this clone): skipping", dir)
	}
	return dir
}
