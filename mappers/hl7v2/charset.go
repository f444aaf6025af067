package hl7v2

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// ToUTF8 returns the message as UTF-8, read in the character set its
// first MSH-18 declares (HL7 table 0211: ASCII, 8859/1 ... 8859/9,
// 8859/15, UNICODE UTF-8), so a Polish name sent in 8859/2 (ŁUKASIEWICZ)
// is kept as written. note, for the report's warnings, says when the
// message was read otherwise than it declares, or declared nothing and
// was not UTF-8. A batch is read in its first message's set: one sender's
// LIMS writes one.
//
// Many LIMS still write Windows-1252 (the Western European code page, a
// superset of ISO 8859-1 with ’ – €) whether or not MSH-18 says so, and
// others write UTF-8 under a stale "8859/1": so with no MSH-18, one the
// gateway does not know, or one the bytes cannot be (declared UTF-8 or
// ASCII, or a single-byte set when the bytes are valid UTF-8 with
// non-ASCII text, which Latin text almost never is by accident), the
// message is read as UTF-8 if it is, else as Windows-1252.
func ToUTF8(data []byte) (out []byte, note string) {
	declared := msh18(data)
	cs, known := charsets[charsetKey(declared)]
	switch {
	case declared == "":
		return guess(data)
	case !known:
		out, note = guess(data)
		return out, "MSH-18 " + quote(declared) + " is not a character set the gateway knows (HL7 table 0211): " + first(note, "read as UTF-8")
	case cs == nil: // ASCII or UTF-8
		if utf8.Valid(data) {
			return data, ""
		}
		_, note = guess(data)
		return windows1252(data), "MSH-18 declares " + quote(declared) + " but " + note
	case ascii(data):
		return data, ""
	case utf8.Valid(data):
		return data, "MSH-18 declares " + quote(declared) + " but the message is valid UTF-8: read as UTF-8"
	}
	out, err := cs.NewDecoder().Bytes(data)
	if err != nil { // cannot happen: every byte of a single-byte set decodes
		return guess(data)
	}
	return out, ""
}

// guess is the reading for a message whose character set is not known:
// UTF-8 if it is, else Windows-1252, with a note saying so.
func guess(data []byte) ([]byte, string) {
	if utf8.Valid(data) {
		return data, ""
	}
	return windows1252(data), "the message is not UTF-8: read as Windows-1252 (ISO 8859-1 and its Western European extension)"
}

func windows1252(data []byte) []byte {
	out, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil { // cannot happen: every byte decodes
		return data
	}
	return out
}

// charsets are HL7 table 0211's character sets by charsetKey; nil: ASCII
// or UTF-8, which need no decoding. 8859/1 is read as Windows-1252, its
// superset: the bytes 0x80-0x9F are control characters in 8859/1, never
// text, and a LIMS that writes ’ or – there means Windows-1252.
var charsets = map[string]*charmap.Charmap{
	"ASCII": nil, "USASCII": nil, "UNICODEUTF8": nil, "UTF8": nil, "UNICODE": nil,
	"88591": charmap.Windows1252, "88592": charmap.ISO8859_2, "88593": charmap.ISO8859_3, "88594": charmap.ISO8859_4,
	"88595": charmap.ISO8859_5, "88596": charmap.ISO8859_6, "88597": charmap.ISO8859_7, "88598": charmap.ISO8859_8,
	"88599": charmap.ISO8859_9, "885915": charmap.ISO8859_15, "WINDOWS1252": charmap.Windows1252, "CP1252": charmap.Windows1252,
}

// charsetKey reduces the ways senders write a set's name ("8859/2",
// "ISO-8859-2", "ISO_8859-2", "UNICODE UTF-8", "utf8") to one key.
func charsetKey(name string) string {
	key := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToUpper(r)
		}
		return -1
	}, name)
	if strings.HasPrefix(key, "ISO8859") || strings.HasPrefix(key, "ISOIR") {
		key = strings.TrimPrefix(key, "ISO")
	}
	return key
}

// msh18 is the first component of the first repetition of the first MSH's
// MSH-18, read from the raw bytes (its names are ASCII in any set).
func msh18(data []byte) string {
	i := bytes.Index(data, []byte("MSH"))
	for i > 0 && data[i-1] != '\r' && data[i-1] != '\n' && data[i-1] != 0x0b {
		j := bytes.Index(data[i+3:], []byte("MSH"))
		if j < 0 {
			return ""
		}
		i += 3 + j
	}
	if i < 0 {
		return ""
	}
	seg := data[i:]
	if end := bytes.IndexAny(seg, "\r\n"); end >= 0 {
		seg = seg[:end]
	}
	if len(seg) < 5 {
		return ""
	}
	sep, enc := seg[3], seg[4:]
	fields := bytes.Split(seg, []byte{sep})
	if len(fields) < 18 {
		return ""
	}
	v := fields[17] // fields[0] is "MSH", fields[1] MSH-2: MSH-n is fields[n-1]
	if len(enc) >= 2 {
		v, _, _ = bytes.Cut(v, enc[1:2]) // the first repetition: the message's default set
	}
	if len(enc) >= 1 {
		v, _, _ = bytes.Cut(v, enc[0:1])
	}
	return strings.TrimSpace(string(v))
}

func ascii(data []byte) bool {
	for _, c := range data {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func quote(s string) string { return `"` + clip(s, 40) + `"` }

// HexCharset reads the bytes of a message's \Xhh..\ escapes in the
// single-byte set its MSH-18 declares (for hl7.Message.HexCharset): HL7
// defines them in the message's character set, so 8859/2's \XB3\ is ł,
// where Windows-1252 would make it ³. Nil where MSH-18 declares UTF-8,
// ASCII, nothing, or a set the gateway does not know.
func HexCharset(data []byte) func(raw []byte) string {
	cs := charsets[charsetKey(msh18(data))]
	if cs == nil {
		return nil
	}
	return func(raw []byte) string {
		out, err := cs.NewDecoder().Bytes(raw)
		if err != nil { // cannot happen: every byte of a single-byte set decodes
			return string(windows1252(raw))
		}
		return string(out)
	}
}
