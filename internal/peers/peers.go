// Package peers finds and starts the third-party test peers in ../shared/peers
// for integration tests. Tests skip with a clear message when ../shared is
// absent (a user's clone); CI always has it.
package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// nhseClaim matches a claim of one of NHS England's genomics profiles in a
// Bundle the gateway wrote: beside another profile, or as a meta of its own.
var nhseClaim = regexp.MustCompile(`,"https://fhir\.nhs\.uk/StructureDefinition/NHSDigital-[A-Za-z]+-Genomics"|"meta":\{"profile":\["https://fhir\.nhs\.uk/StructureDefinition/NHSDigital-[A-Za-z]+-Genomics"\]\},`)

// WithoutNHSEClaims removes the gateway's claims of NHS England's genomics
// profiles from a Bundle before the validator sees it: it cannot load those
// profiles (differential only, on UK Core, without snapshots), and --strict
// fails a claim it cannot check. mappers/fhirr4's nhse_profile_test.go
// checks those claims instead.
func WithoutNHSEClaims(bundle []byte) []byte { return nhseClaim.ReplaceAll(bundle, nil) }
