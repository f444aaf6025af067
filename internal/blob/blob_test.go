package blob

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestPackRoundTrip(t *testing.T) {
	bundle := []byte(`{"resourceType":"Bundle","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Observation","status":"final"}},`, 200) + `{}]}`)
	for name, c := range map[string]struct {
		in         []byte
		compressed bool
	}{
		"json":  {bundle, true},
		"pdf":   {append([]byte("%PDF-1.4\n"), bundle...), false}, // PDFs are stored as they are
		"small": {[]byte(`{"a":1}`), false},
		"incompressible": {func() []byte {
			b := make([]byte, 4096)
			for i := range b {
				b[i] = byte(i*7919%251) ^ byte(i>>3)
			}
			return b
		}(), false},
	} {
		packed := Pack(c.in)
		if got := !bytes.Equal(packed, c.in); got != c.compressed {
			t.Errorf("%s: compressed=%v, want %v (%d -> %d bytes)", name, got, c.compressed, len(c.in), len(packed))
		}
		out, err := Unpack(packed)
		if err != nil || !bytes.Equal(out, c.in) {
			t.Errorf("%s: round trip: %v", name, err)
		}
	}
	if len(Pack(bundle))*10 > len(bundle) {
		t.Errorf("repetitive FHIR JSON compressed only to %d of %d bytes", len(Pack(bundle)), len(bundle))
	}
	if _, err := Unpack(append([]byte{0x28, 0xb5, 0x2f, 0xfd}, "garbage"...)); err == nil {
		t.Error("a damaged frame must be an error, not garbage")
	}
}

func TestBundleWithoutItsPDF(t *testing.T) {
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x01}, 10000)...)
	b64 := base64.StdEncoding.EncodeToString(pdf)
	bundle := []byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary","data":"` + b64 + `"}},{"resource":{"resourceType":"Observation","valueString":"` + strings.Repeat("x", 300) + `"}}]}`)
	packed := PackBundle(bundle, pdf)
	if len(packed) > 2000 {
		t.Fatalf("the PDF's base64 was stored: %d bytes", len(packed))
	}
	back, err := UnpackBundle(packed, pdf)
	if err != nil || !bytes.Equal(back, bundle) {
		t.Fatalf("round trip: %v", err)
	}
	// Without that PDF inside, a Bundle is stored whole, and read back the same.
	other := []byte(`{"resourceType":"Bundle","entry":[]}`)
	if back, err := UnpackBundle(PackBundle(other, pdf), pdf); err != nil || !bytes.Equal(back, other) {
		t.Fatalf("a Bundle without the PDF: %q %v", back, err)
	}
	// Values packed before (plain or zstd) read as they were.
	if back, err := UnpackBundle(Pack(bundle), pdf); err != nil || !bytes.Equal(back, bundle) {
		t.Fatalf("an older value: %v", err)
	}
}
