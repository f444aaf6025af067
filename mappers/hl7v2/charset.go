package hl7v2

import (
	"bytes"
	"unicode/utf8"
)

// ToUTF8 returns the message as UTF-8. Many LIMS still write ISO 8859-1
// (Latin-1), whether or not MSH-18 says so: a message that is not valid
// UTF-8 is converted from Latin-1, so a name such as Siân or Zoë is kept as
// written rather than mangled; note says so for the report's warnings.
// (Latin-1 text with accents is almost never valid UTF-8 by accident.)
func ToUTF8(data []byte) (out []byte, note string) {
	if utf8.Valid(data) {
		return data, ""
	}
	var b bytes.Buffer
	b.Grow(len(data) + len(data)/8)
	for _, c := range data {
		b.WriteRune(rune(c))
	}
	return b.Bytes(), "the message is not UTF-8: read as ISO 8859-1 (Latin-1)"
}
