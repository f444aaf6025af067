// Package blob is how the stores keep large values at rest: compressed
// with zstd where that pays (FHIR JSON, HL7 v2, raw messages), as they are
// where it does not (PDFs, already deflated inside). A stored value says
// which it is by its first bytes (a zstd frame's magic number, which no
// JSON, PDF or ER7 starts with), so values written before compression
// read back unchanged.
package blob

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Encoders and decoders are safe for concurrent EncodeAll/DecodeAll.
var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
)

// Pack returns b as it should be stored: compressed if that saves at least
// a tenth, else b itself.
func Pack(b []byte) []byte {
	if len(b) < 256 || bytes.HasPrefix(b, []byte("%PDF")) {
		return b
	}
	z := encoder.EncodeAll(b, make([]byte, 0, len(b)/4))
	if len(z) > len(b)*9/10 {
		return b
	}
	return z
}

// Packed says whether stored was compressed by Pack (Unpack then returns
// new memory; otherwise it returns stored itself).
func Packed(stored []byte) bool { return bytes.HasPrefix(stored, zstdMagic) }

// Unpack returns the value Pack was given.
func Unpack(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return stored, nil
	}
	b, err := decoder.DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress stored value: %w", err)
	}
	return b, nil
}

// pdfMarker stands in a stored Bundle for the PDF's base64. A raw NUL
// cannot occur in JSON (control characters in strings are escaped), so the
// marker cannot be mistaken for content.
var pdfMarker = []byte("\"\x00rg-pdf\x00\"")

// PackBundle is Pack for a FHIR Bundle that carries pdf (as its Binary's
// base64): the base64 is left out — the PDF is stored beside it anyway —
// and UnpackBundle puts it back, byte for byte. A Bundle without that exact
// base64 is packed whole.
func PackBundle(bundle, pdf []byte) []byte {
	if len(pdf) == 0 {
		return Pack(bundle)
	}
	quoted := append(append([]byte{'"'}, base64.StdEncoding.AppendEncode(nil, pdf)...), '"')
	i := bytes.Index(bundle, quoted)
	if i < 0 {
		return Pack(bundle)
	}
	elided := make([]byte, 0, len(bundle)-len(quoted)+len(pdfMarker))
	elided = append(append(append(elided, bundle[:i]...), pdfMarker...), bundle[i+len(quoted):]...)
	return Pack(elided)
}

// UnpackBundle returns the Bundle PackBundle was given; pdf is the PDF
// stored with it (needed only if PackBundle left it out). If that PDF is
// gone (nil: its report was pruned first), a note stands in its place.
func UnpackBundle(stored, pdf []byte) ([]byte, error) {
	b, err := Unpack(stored)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(b, pdfMarker)
	if i < 0 {
		return b, nil
	}
	quoted := append(append([]byte{'"'}, base64.StdEncoding.AppendEncode(nil, pdf)...), '"')
	if pdf == nil {
		quoted = []byte(`"(the PDF was kept with its report, which has since been removed under the retention policy)"`)
	}
	out := make([]byte, 0, len(b)-len(pdfMarker)+len(quoted))
	return append(append(append(out, b[:i]...), quoted...), b[i+len(pdfMarker):]...), nil
}
