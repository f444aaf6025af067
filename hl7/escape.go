package hl7

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Unescape turns an escaped value into text: \F\ \S\ \T\ \R\ \E\ become the
// delimiters, \Xhh..\ the bytes, \.br\ a line break; formatting escapes
// (\H\ \N\ and other \.xx\) are dropped. An unterminated escape stays as is.
func (m *Message) Unescape(s string) string {
	esc := m.Delims.Escape
	if strings.IndexByte(s, esc) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != esc {
			b.WriteByte(s[i])
			continue
		}
		end := strings.IndexByte(s[i+1:], esc)
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		seq := s[i+1 : i+1+end]
		i += end + 1
		switch {
		case seq == "F":
			b.WriteByte(m.Delims.Field)
		case seq == "S":
			b.WriteByte(m.Delims.Component)
		case seq == "T":
			b.WriteByte(m.Delims.Subcomponent)
		case seq == "R":
			b.WriteByte(m.Delims.Repetition)
		case seq == "E":
			b.WriteByte(esc)
		case seq == ".br":
			b.WriteByte('\n')
		case strings.HasPrefix(seq, "X"):
			if raw, err := hex.DecodeString(seq[1:]); err == nil {
				b.WriteString(hexText(raw))
			}
		case seq == "H" || seq == "N" || strings.HasPrefix(seq, "."):
			// formatting: no text
		default:
			b.WriteString(string(esc) + seq + string(esc))
		}
	}
	return b.String()
}

// Escape makes text safe inside a field: delimiters and the escape
// character become escape sequences; line breaks become \.br\.
func (d Delimiters) EscapeText(s string) string {
	if !strings.ContainsAny(s, string([]byte{d.Field, d.Component, d.Repetition, d.Escape, d.Subcomponent, '\r', '\n'})) {
		return s
	}
	e := string(d.Escape)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case d.Field:
			b.WriteString(e + "F" + e)
		case d.Component:
			b.WriteString(e + "S" + e)
		case d.Subcomponent:
			b.WriteString(e + "T" + e)
		case d.Repetition:
			b.WriteString(e + "R" + e)
		case d.Escape:
			b.WriteString(e + "E" + e)
		case '\n':
			b.WriteString(e + ".br" + e)
		case '\r':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// hexText is the text of a \Xhh..\ escape: UTF-8 when the bytes are, else
// Windows-1252 (what senders mean by \XE2\ for â), so the result is always
// valid UTF-8.
func hexText(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	var b strings.Builder
	for _, c := range raw {
		if c >= 0x80 && c < 0xA0 && cp1252[c-0x80] != 0 {
			b.WriteRune(cp1252[c-0x80])
		} else {
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}

// cp1252 is Windows-1252 from 0x80 to 0x9F (0: unassigned, read as Latin-1).
var cp1252 = [32]rune{'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ'}
