// Package blob is how the stores keep large values at rest: compressed
// with zstd where that pays (FHIR JSON, HL7 v2, raw messages), as they are
// where it does not (PDFs, already deflated inside). A stored value says
// which it is by its first bytes (a zstd frame's magic number, which no
// JSON, PDF or ER7 starts with), so values written before compression
// read back unchanged.
package blob

import (
	"bytes"
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
