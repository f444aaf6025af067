package blob

import (
	"bytes"
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
