// Package blob is how the stores keep large values at rest: compressed
// where that pays (FHIR JSON, HL7 v2, raw messages), as they are where it
// does not (PDFs, already deflated inside). JSON and ER7 text go through
// S2 (Snappy's faster successor, from the same module as zstd): about
// twice as fast as zstd's fastest level to write and to read, for a
// quarter more bytes. What S2 cannot shrink by a tenth (text that is
// mostly base64, like an ORU carrying its PDF) is tried with zstd, whose
// entropy coding may still take something off. A stored value says which it is
// by its first bytes: a zstd frame's magic number, or S2's prefix below
// (S2 blocks have no magic of their own), neither of which any JSON, PDF
// or ER7 starts with; so values written before compression, or before S2,
// read back unchanged.
package blob

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/nhs-genomics/results-gateway/internal/pdfbase64"
)

var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	s2Prefix  = []byte("\x00rg-s2\x00")
)

// Encoders and decoders are safe for concurrent EncodeAll/DecodeAll.
var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecoded))
)

var scratchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxDecoded is the most a stored value may decompress to.
const maxDecoded = 1 << 30

// Pack returns b as it should be stored: compressed if that saves at least
// a tenth, else b itself. A value that happens to start as a compressed
// one does is always compressed, so that it cannot be misread.
func Pack(b []byte) []byte {
	ambiguous := Packed(b)
	if !ambiguous && (len(b) < 256 || bytes.HasPrefix(b, []byte("%PDF"))) {
		return b
	}
	if len(b) >= 256 {
		// Encoded into a pooled scratch buffer and copied out at its size:
		// S2 wants room for the worst case, several times what JSON takes.
		need := s2.MaxEncodedLen(len(b))
		scratch := scratchBuffers.Get().(*[]byte)
		if cap(*scratch) < need {
			*scratch = make([]byte, need)
		}
		if cap(*scratch) <= 4<<20 { // a large value's scratch is not kept
			defer scratchBuffers.Put(scratch)
		}
		if block := s2.Encode((*scratch)[:cap(*scratch)], b); len(block) <= len(b)*9/10 {
			return append(append(make([]byte, 0, len(s2Prefix)+len(block)), s2Prefix...), block...)
		}
	}
	z := encoder.EncodeAll(b, make([]byte, 0, len(b)/4))
	if len(z) > len(b)*9/10 && !ambiguous {
		return b
	}
	return z
}

// Packed says whether stored was compressed by Pack (Unpack then returns
// new memory; otherwise it returns stored itself).
func Packed(stored []byte) bool {
	return bytes.HasPrefix(stored, zstdMagic) || bytes.HasPrefix(stored, s2Prefix)
}

// Unpack returns the value Pack was given.
func Unpack(stored []byte) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case bytes.HasPrefix(stored, s2Prefix):
		// A damaged length header must not ask for gigabytes: the same
		// ceiling as zstd's decoder.
		if n, lenErr := s2.DecodedLen(stored[len(s2Prefix):]); lenErr != nil || n > maxDecoded {
			return nil, fmt.Errorf("decompress stored value: S2 block claims %d bytes (%v)", n, lenErr)
		}
		b, err = s2.Decode(nil, stored[len(s2Prefix):])
	case bytes.HasPrefix(stored, zstdMagic):
		b, err = decoder.DecodeAll(stored, nil)
	default:
		return stored, nil
	}
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
	return PackBundleAt(bundle, pdf, 0)
}

// PackBundleAt is PackBundle told where pdf's base64 string starts (its
// opening quote) by whoever wrote it there, so it is neither searched for
// nor encoded again to check it; 0, or a place that does not hold a string
// of the right length, and it is searched for.
func PackBundleAt(bundle, pdf []byte, at int) []byte {
	if len(pdf) == 0 {
		return Pack(bundle)
	}
	i := at
	if !looksLikeBase64At(bundle, pdf, at) {
		i = indexBase64String(bundle, pdf)
	}
	if i < 0 {
		return Pack(bundle)
	}
	end := i + base64.StdEncoding.EncodedLen(len(pdf)) + 2 // the quotes too
	elided := make([]byte, 0, len(bundle)-(end-i)+len(pdfMarker))
	elided = append(append(append(elided, bundle[:i]...), pdfMarker...), bundle[end:]...)
	return Pack(elided)
}

// looksLikeBase64At reports whether b holds, at its offset at, a JSON
// string of pdf's base64's length that begins and ends as that base64
// does: a check of a fixed few bytes, against a place given by whoever
// wrote or read the string there, so that a wrong place is never elided.
func looksLikeBase64At(b, pdf []byte, at int) bool {
	n := pdfbase64.EncodedLen(len(pdf))
	if at <= 0 || at+1+n >= len(b) || b[at] != '"' || b[at+1+n] != '"' {
		return false
	}
	return pdfbase64.SameEnds(b[at+1:at+1+n], pdf)
}

// PackMessage packs a raw message for the message log: with the stored
// version's PDF's base64 left out when withPDF (the PDF is kept with its
// report; at is where its string starts, if the decoder said), else whole. One or the other, never both: compressing the whole
// message first, base64 and all, was a tenth of intake's CPU for nothing.
func PackMessage(raw, pdf []byte, withPDF bool, at int) []byte {
	if withPDF {
		return PackBundleAt(raw, pdf, at)
	}
	return Pack(raw)
}

// indexBase64String is where the JSON string holding data's base64 starts
// in b (at its opening quote), or -1. It looks for the first 60 characters
// and then compares the rest a chunk at a time: searching for the whole
// base64 of a 50 KB PDF with bytes.Index hashes the needle on every call,
// which was a tenth of intake's CPU.
func indexBase64String(b, data []byte) int {
	enc := base64.StdEncoding
	n := enc.EncodedLen(len(data))
	// 45 bytes: whole base64 quanta (so a prefix of the full encoding), and
	// with its quote 61 characters, within what bytes.Index finds with
	// vector instructions (63 on amd64) rather than by rolling hash.
	head := data[:min(len(data), 45)]
	needle := append([]byte{'"'}, enc.AppendEncode(nil, head)...)
	for from := 0; ; {
		i := bytes.Index(b[from:], needle)
		if i < 0 {
			return -1
		}
		i += from
		if end := i + 1 + n; end < len(b) && b[end] == '"' && sameBase64(b[i+1:end], data) {
			return i
		}
		from = i + 1
	}
}

// sameBase64 reports whether text is data's standard base64, encoding data
// in chunks rather than all at once.
func sameBase64(text, data []byte) bool {
	const chunk = 3 << 10 // a multiple of 3, so each chunk's encoding has no padding but the last
	var buf [4 << 10]byte
	for len(data) > 0 {
		part := data[:min(len(data), chunk)]
		n := base64.StdEncoding.EncodedLen(len(part))
		base64.StdEncoding.Encode(buf[:n], part)
		if len(text) < n || !bytes.Equal(text[:n], buf[:n]) {
			return false
		}
		text, data = text[n:], data[len(part):]
	}
	return len(text) == 0
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
	if pdf == nil {
		gone := []byte(`"(the PDF was kept with its report, which has since been removed under the retention policy)"`)
		out := make([]byte, 0, len(b)-len(pdfMarker)+len(gone))
		return append(append(append(out, b[:i]...), gone...), b[i+len(pdfMarker):]...), nil
	}
	// The base64 is written straight into the Bundle: no copy of it first.
	n := base64.StdEncoding.EncodedLen(len(pdf))
	out := make([]byte, i+1+n+1+len(b)-i-len(pdfMarker))
	copy(out, b[:i])
	out[i] = '"'
	pdfbase64.Encode(out[i+1:i+1+n], pdf)
	out[i+1+n] = '"'
	copy(out[i+2+n:], b[i+len(pdfMarker):])
	return out, nil
}
