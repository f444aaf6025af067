package hl7v2

import (
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// ToUTF8 returns the message as UTF-8. Many LIMS still write Windows-1252
// (the Western European code page, a superset of ISO 8859-1 with ’ – €),
// whether or not MSH-18 says so: a message that is not valid UTF-8 is
// converted from it, so a name such as Siân, Zoë or O’Reilly is kept as
// written rather than mangled; note says so for the report's warnings.
// (Such text is almost never valid UTF-8 by accident.)
func ToUTF8(data []byte) (out []byte, note string) {
	if utf8.Valid(data) {
		return data, ""
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil { // cannot happen: every byte decodes
		return data, ""
	}
	return out, "the message is not UTF-8: read as Windows-1252 (ISO 8859-1 and its Western European extension)"
}
