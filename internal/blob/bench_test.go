package blob

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

// BenchmarkPackBundle: a Bundle with a 50 KB PDF's base64, the PDF left
// out and the rest compressed, as intake stores it.
func BenchmarkPackBundle(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	pdf := []byte("%PDF-1.4\n")
	for len(pdf) < 50<<10 {
		pdf = append(pdf, byte(rng.Uint32()))
	}
	bundle := []byte(`{"resourceType":"Bundle","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}},`, 100) +
		`{"resource":{"resourceType":"Binary","data":"` + base64.StdEncoding.EncodeToString(pdf) + `"}}]}`)
	b.SetBytes(int64(len(bundle)))
	for b.Loop() {
		if packed := PackBundle(bundle, pdf); len(packed) > len(bundle)/4 {
			b.Fatalf("the PDF was not left out: %d of %d bytes", len(packed), len(bundle))
		}
	}
}
