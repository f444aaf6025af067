package blob

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
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
	if _, err := Unpack(append(append([]byte{}, s2Prefix...), "garbage"...)); err == nil {
		t.Error("a damaged S2 block must be an error, not garbage")
	}
	// A length header claiming 4 GB (a varint) is refused before allocating.
	if _, err := Unpack(append(append([]byte{}, s2Prefix...), 0xff, 0xff, 0xff, 0xff, 0x0f, 'x')); err == nil {
		t.Error("an S2 block claiming 4 GB must be refused")
	}
}

// JSON goes through S2; values stored by zstd alone before S2 read back;
// a raw value that starts as a packed one does is packed anyway, so it is
// never misread.
func TestPackChoosesItsCodec(t *testing.T) {
	bundle := []byte(`{"resourceType":"Bundle","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Observation","status":"final"}},`, 200) + `{}]}`)
	if packed := Pack(bundle); !bytes.HasPrefix(packed, s2Prefix) {
		t.Errorf("FHIR JSON was not stored with S2: % x", packed[:8])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 30000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	oru := []byte("MSH|^~\\&|LAB|GLH|EPR|R0A|20261102||ORU^R01|C1|P|2.5.1\rOBX|1|ED|PDF^Report||^application^pdf^Base64^" + base64.StdEncoding.EncodeToString(random) + "||||||F\r")
	older := encoder.EncodeAll(bundle, nil)
	for name, in := range map[string][]byte{
		"ORU": oru, "zstd before S2": bundle,
		"starts like S2":   append(append([]byte{}, s2Prefix...), random[:100]...),
		"starts like zstd": append(append([]byte{}, zstdMagic...), random[:40]...),
		"short, like S2":   s2Prefix,
	} {
		stored := Pack(in)
		if name == "zstd before S2" {
			stored = older
		}
		if out, err := Unpack(stored); err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: round trip: %v", name, err)
		}
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

// Told where the writer put the PDF, PackBundleAt packs as PackBundle
// does; told a place that holds no string of the PDF's length, it
// searches, so a wrong hint never loses content.
func TestBundleWithItsPDFsPlace(t *testing.T) {
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x01}, 10000)...)
	b64 := base64.StdEncoding.EncodeToString(pdf)
	head := `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary","data":`
	bundle := []byte(head + `"` + b64 + `"}},{"resource":{"resourceType":"Observation","valueString":"` + strings.Repeat("x", 300) + `"}}]}`)
	want := PackBundle(bundle, pdf)
	if got := PackBundleAt(bundle, pdf, len(head)); !bytes.Equal(got, want) {
		t.Fatal("told the right place, packed differently from PackBundle")
	}
	for _, wrong := range []int{-5, 0, 1, len(head) + 1, len(head) - 1, len(bundle) - 2, len(bundle) + 10} {
		back, err := UnpackBundle(PackBundleAt(bundle, pdf, wrong), pdf)
		if err != nil || !bytes.Equal(back, bundle) {
			t.Fatalf("told %d: round trip: %v", wrong, err)
		}
	}
	// Told the place of another string of the same length: it is not cut
	// out (it would come back as the PDF), the PDF is found and left out.
	decoy := `{"resourceType":"Bundle","note":`
	for _, other := range []string{strings.Repeat("A", len(b64)), b64[:len(b64)-4] + "AAAA", "QUFB" + b64[4:]} {
		doc := []byte(decoy + `"` + other + `",` + string(bundle[1:]))
		packed := PackBundleAt(doc, pdf, len(decoy))
		if back, err := UnpackBundle(packed, pdf); err != nil || !bytes.Equal(back, doc) {
			t.Fatalf("told the place of a look-alike: round trip: %v", err)
		}
		if len(packed) > 2000 {
			t.Fatalf("the PDF's own base64 was not left out: %d bytes", len(packed))
		}
	}
}

// indexBase64String finds what a plain search for the whole quoted base64
// finds, including past decoys that share its first characters.
func TestIndexBase64StringAgreesWithPlainSearch(t *testing.T) {
	for _, size := range []int{1, 2, 3, 44, 45, 46, 47, 48, 49, 3 << 10, 3<<10 + 1, 3<<10 + 2, 20000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + size)
		}
		b64 := base64.StdEncoding.EncodeToString(data)
		decoyLonger := `"` + b64 + `AAAA"`                    // the same start, a longer string
		decoyShorter := `"` + b64[:len(b64)-4] + `"`          // the same start, cut short
		decoyTail := `"` + b64[:len(b64)-1] + flip(b64) + `"` // differs in its last character
		cases := map[string]string{
			"alone":        `{"data":"` + b64 + `"}`,
			"after decoys": `{"a":` + decoyLonger + `,"b":` + decoyShorter + `,"c":` + decoyTail + `,"data":"` + b64 + `"}`,
			"only decoys":  `{"a":` + decoyLonger + `,"b":` + decoyShorter + `,"c":` + decoyTail + `}`,
			"unquoted":     `{"data":` + b64 + `}`,
		}
		for name, doc := range cases {
			want := bytes.Index([]byte(doc), []byte(`"`+b64+`"`))
			if got := indexBase64String([]byte(doc), data); got != want {
				t.Errorf("%d bytes, %s: at %d, want %d", size, name, got, want)
			}
		}
	}
}

// flip is a base64 character other than s's last.
func flip(s string) string {
	if s[len(s)-1] == 'A' {
		return "B"
	}
	return "A"
}
