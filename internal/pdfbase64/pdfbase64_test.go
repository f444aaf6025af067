package pdfbase64

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// The SIMD codec answers as encoding/base64 does, across the sizes where
// it works in blocks and where it hands the rest to the standard library.
func TestAsEncodingBase64(t *testing.T) {
	for _, size := range []int{0, 1, 2, 3, 31, 32, 33, 47, 48, 64, 95, 96, 1000, 50 << 10} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*131 + i>>5)
		}
		want := base64.StdEncoding.EncodeToString(data)
		got := make([]byte, EncodedLen(size))
		Encode(got, data)
		if string(got) != want {
			t.Fatalf("%d bytes: encoded differently", size)
		}
		back, err := DecodeStrict(got)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%d bytes: decoded %v", size, err)
		}
		if size > 0 && !SameEnds(got, data) {
			t.Fatalf("%d bytes: its own encoding not recognised", size)
		}
	}
	for _, text := range []string{"QUJD!", "QR==", "QUJDRA", "QU=D", "QUJD\x00QUJD"} {
		_, want := base64.StdEncoding.Strict().DecodeString(text)
		if _, err := DecodeStrict([]byte(text)); (err == nil) != (want == nil) {
			t.Errorf("%q: error %v, encoding/base64 says %v", text, err, want)
		}
	}
}
