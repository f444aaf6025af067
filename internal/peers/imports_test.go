package peers

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsPointInward keeps the layout of DESIGN.md: the domain imports
// only the standard library; mappers never import each other or adapters;
// the HTTP layer and stores never import mappers.
func TestImportsPointInward(t *testing.T) {
	const mod = "github.com/nhs-genomics/results-gateway/"
	rules := map[string][]string{
		"gateway":           {mod},
		"gateway/http":      {mod + "mappers", mod + "adapters", mod + "gateway/boltstore", mod + "gateway/pdf"},
		"gateway/boltstore": {mod + "mappers", mod + "adapters", mod + "gateway/http"},
		"gateway/pdf":       {mod + "mappers", mod + "adapters", mod + "gateway/http"},
		"mappers/labjson":   {mod + "mappers/fhirr4", mod + "adapters"},
		"mappers/fhirr4":    {mod + "mappers/labjson", mod + "adapters"},
	}
	for pkg, forbidden := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+pkg {
				continue
			}
			if pkg == "gateway" {
				t.Errorf("gateway imports %s: the domain package may import only the standard library", dep)
				continue
			}
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
