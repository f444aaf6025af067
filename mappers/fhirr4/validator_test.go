package fhirr4_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/peers"
)

// TestBundlesPassThirdPartyValidator maps every fixture and has the peer
// validator check base R4 and the Genomics Reporting IG STU3 profiles.
// --strict makes warnings fail too.
func TestBundlesPassThirdPartyValidator(t *testing.T) {
	cmd := peers.Command(t, "validate-genomics", "--strict")
	dir := t.TempDir()
	for _, f := range fixtures.Reports() {
		_, out := mapFixture(t, f.Body)
		out = peers.WithoutNHSEClaims(out) // checked by nhse_profile_test.go
		path := filepath.Join(dir, f.Name+".json")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd.Args = append(cmd.Args, path)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("validator rejected the Bundles: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
