package hl7

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Unescape turns an escaped value into text: \F\ \S\ \T\ \R\ \E\ become the
// delimiters, \Xhh..\ the bytes, \.br\ a line break; formatting escapes
// that separate text become what separates it (\.sp n\ and \.ce\ line
// breaks, \.sk n\ spaces); others (\H\ \N\ \.in\ ...) are dropped. A
// line ending sent as hex (\X0D\, \X0A\, \X0D0A\, \X0D\\X0A\) is a line
// break, "\n", as \.br\ is: a bare CR in a value is a segment terminator
// to every later reader, which drops it ("Line2Line3"). An unterminated
// escape stays as is.
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
		case seq == ".br" || seq == ".ce": // .ce ends the line and centres the next
			b.WriteByte('\n')
		case strings.HasPrefix(seq, ".sp"): // end the line and skip n lines (1 if absent)
			b.WriteString(strings.Repeat("\n", repeats(seq[3:])))
		case strings.HasPrefix(seq, ".sk"): // skip n spaces to the right
			b.WriteString(strings.Repeat(" ", repeats(seq[3:])))
		case strings.HasPrefix(seq, "X"):
			if raw, err := hex.DecodeString(seq[1:]); err == nil {
				b.WriteString(m.hexText(raw))
			}
		case seq == "H" || seq == "N" || strings.HasPrefix(seq, "."):
			// formatting: no text
		default:
			b.WriteString(string(esc) + seq + string(esc))
		}
	}
	return lineBreaks(b.String())
}

// maxRepeats bounds \.sp n\ and \.sk n\: a sender's typo (or worse) must
// not make a value a million lines long.
const maxRepeats = 20

// repeats reads the count of a \.sp n\ or \.sk n\ (after the command):
// absent (or not a number) is 1, as HL7 says.
func repeats(arg string) int {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxRepeats)
}

// lineBreaks makes each CR, CRLF or LF that hex escapes wrote one "\n".
// A value holds no CR otherwise: CR ends a segment.
func lineBreaks(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
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
// the message's declared character set, else Windows-1252 (what senders
// mean by \XE2\ for â), so the result is always valid UTF-8.
func (m *Message) hexText(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	if m.HexCharset != nil {
		return m.HexCharset(raw)
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
