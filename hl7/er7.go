// Package hl7 reads and writes HL7 v2 messages in ER7 (pipe-and-hat)
// encoding, frames them for MLLP and builds acknowledgements. It is small
// and exact: delimiters come from MSH, escapes work both ways, and parsing
// is loss-free, so an unmodified message writes back byte for byte.
package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Delimiters are the message's separators, from MSH-1 and MSH-2.
type Delimiters struct {
	Field, Component, Repetition, Escape, Subcomponent byte
}

// DefaultDelimiters are |^~\&.
var DefaultDelimiters = Delimiters{'|', '^', '~', '\\', '&'}

func (d Delimiters) encodingCharacters() string {
	return string([]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent})
}

// Message is a parsed message: its segments in order, with what surrounded
// them kept so that Bytes returns the input unchanged.
type Message struct {
	Delims   Delimiters
	Segments []*Segment
	prefix   string // anything before the first segment (a byte-order mark, blank lines)
	// HexCharset reads the bytes of a \Xhh..\ escape that are not UTF-8:
	// they are in the character set MSH-18 declares (ISO 8859-2's \XB3\
	// is ł). Nil reads them as Windows-1252, what undeclared senders mean.
	HexCharset func(raw []byte) string
}

// Segment is one segment. Fields holds the raw (still escaped) fields;
// Fields[0] is the segment name.
type Segment struct {
	Fields     []string
	Index      int    // 1-based position in the message, for error locations
	terminator string // what ended it in the input: "\r", "\n", "\r\n", blank lines, or nothing
}

// Name is the segment's three-letter id.
func (s *Segment) Name() string { return s.Fields[0] }

// Field returns raw field n as HL7 numbers it (MSH-1 is the field separator,
// MSH-2 the encoding characters); "" when absent.
func (s *Segment) Field(n int) string {
	if s.Name() == "MSH" || s.Name() == "FHS" || s.Name() == "BHS" {
		n-- // MSH-1 is the separator itself, so MSH-n sits at Fields[n-1]
	}
	if n < 1 || n >= len(s.Fields) {
		return ""
	}
	return s.Fields[n]
}

// ErrNoMSH means the data does not start with an MSH segment.
var ErrNoMSH = errors.New("hl7: message does not start with an MSH segment")

// Parse parses one message. Segments may end with CR, LF or CRLF.
func Parse(data []byte) (*Message, error) {
	m, err := parse(data, true)
	return m, err
}

// ParseSegments parses segments that may lack an MSH (a fragment, such as
// an OBX block), with the default delimiters unless an MSH says otherwise.
func ParseSegments(data []byte) (*Message, error) { return parse(data, false) }

func parse(data []byte, needMSH bool) (*Message, error) {
	m := &Message{Delims: DefaultDelimiters}
	text := string(data)
	body := strings.TrimLeft(text, "\ufeff\r\n\t ")
	m.prefix = text[:len(text)-len(body)]
	if strings.HasPrefix(body, "MSH") || strings.HasPrefix(body, "FHS") || strings.HasPrefix(body, "BHS") {
		if len(body) < 8 {
			return nil, fmt.Errorf("hl7: %s segment too short to hold its delimiters", body[:3])
		}
		d := Delimiters{Field: body[3], Component: body[4], Repetition: body[5], Escape: body[6], Subcomponent: body[7]}
		if d.Field == '\r' || d.Field == '\n' || bytes.ContainsAny([]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent}, "\r\n") {
			return nil, errors.New("hl7: MSH-1/MSH-2 do not hold valid delimiters")
		}
		if body[7] == d.Field { // only three encoding characters given
			d.Subcomponent = '&'
		}
		m.Delims = d
	} else if needMSH {
		return nil, ErrNoMSH
	}
	// The message's own segment ending is its first segment's: an
	// LF-ended message with one stray CR is still LF-ended.
	firstEnd := strings.IndexAny(body, "\r\n")
	crEnded := firstEnd >= 0 && body[firstEnd] == '\r'
	seen := map[string]bool{}
	for pos := 0; pos < len(body); {
		end := segmentEnd(body, pos, crEnded, m.Delims.Field, seen)
		line, next := body[pos:end], skipTerminators(body, end)
		seg := &Segment{Fields: strings.Split(line, string(m.Delims.Field)), Index: len(m.Segments) + 1, terminator: body[end:next]}
		if len(seg.Fields[0]) != 3 {
			return nil, fmt.Errorf("hl7: segment %d %q does not start with a three-character segment id", seg.Index, truncate(line))
		}
		seen[seg.Fields[0]] = true
		m.Segments = append(m.Segments, seg)
		pos = next
	}
	if len(m.Segments) == 0 {
		return nil, errors.New("hl7: no segments")
	}
	return m, nil
}

// segmentEnd is where the segment starting at pos ends: at the next CR or
// LF. In a message whose segments end with CR (as HL7 says they do), a
// lone LF is a line break a LIMS let into a field (Enter typed in a
// comment), part of the content, unless a segment follows it: an id HL7
// defines, a Z-segment's, or one the message has used already, then the
// field separator. (A comment line "VUS" or "JMS" is not a segment.)
// An end-of-file byte or NULs after the last segment are not part of it.
func segmentEnd(body string, pos int, crEnded bool, field byte, seen map[string]bool) int {
	for i := pos; i < len(body); i++ {
		switch body[i] {
		case '\r':
			return i
		case '\n':
			lone := (i == 0 || body[i-1] != '\r') && (i+1 == len(body) || body[i+1] != '\r')
			if !crEnded || !lone || startsSegment(body[i+1:], field, seen) {
				return i
			}
		}
	}
	return max(pos, len(strings.TrimRight(body, "\x1a\x00")))
}

// junk is what may trail a message without being part of it: an MS-DOS
// end-of-file, NULs, blanks.
const junk = "\x1a\x00 \t"

// startsSegment says whether s starts with a segment: a known id (see
// segmentEnd), then the field separator.
func startsSegment(s string, field byte, seen map[string]bool) bool {
	if len(s) < 4 || s[3] != field {
		return false
	}
	id := s[:3]
	return knownSegments[id] || seen[id] || id[0] == 'Z' && isUpperAlnum(id[1]) && isUpperAlnum(id[2])
}

func isUpperAlnum(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// knownSegments are the segment ids a lab's result message may carry.
var knownSegments = map[string]bool{}

func init() {
	for _, id := range strings.Fields(`MSH MSA ERR SFT UAC EVN PID PD1 PV1 PV2 NK1 PRT ROL CTD AL1 DG1 IN1 IN2 IN3 GT1
		ORC OBR OBX NTE SPM SAC TQ1 TQ2 CTI FT1 TXA TCD MRG FHS FTS BHS BTS DSC QRD QAK QPD RCP ARQ SCH RGS AIS AIG AIL AIP
		BLG ODS ODT RXO RXR RXC RXE RXA RXD RXG FAC CSR CSP CSS OM1 PRB GOL PTH VAR IAM`) {
		knownSegments[id] = true
	}
}

// skipTerminators passes the CRs and LFs that end a segment, and any
// lines of nothing but blanks (or junk) among them.
func skipTerminators(body string, i int) int {
	for {
		for i < len(body) && (body[i] == '\r' || body[i] == '\n') {
			i++
		}
		rest := body[i:]
		j := strings.IndexAny(rest, "\r\n")
		if j < 0 {
			j = len(rest)
		}
		if j == 0 || strings.Trim(rest[:j], junk) != "" {
			return i
		}
		i += j
	}
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// Bytes writes the message in ER7. For a message as parsed it is the input.
func (m *Message) Bytes() []byte {
	var b strings.Builder
	b.WriteString(m.prefix)
	for _, s := range m.Segments {
		b.WriteString(strings.Join(s.Fields, string(m.Delims.Field)))
		b.WriteString(s.terminator)
	}
	return []byte(b.String())
}

// First returns the first segment with the name, or nil.
func (m *Message) First(name string) *Segment {
	for _, s := range m.Segments {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// Value returns component c (1-based; 0 for the whole field) of the first
// repetition of field n, unescaped.
func (m *Message) Value(s *Segment, n, c int) string {
	if s == nil {
		return ""
	}
	field := s.Field(n)
	if s.Name() == "MSH" && n <= 2 {
		return field
	}
	rep, _, _ := strings.Cut(field, string(m.Delims.Repetition))
	return m.Unescape(m.Component(rep, c))
}

// Repetitions splits a raw field into its repetitions (still escaped).
func (m *Message) Repetitions(field string) []string {
	if field == "" {
		return nil
	}
	return strings.Split(field, string(m.Delims.Repetition))
}

// Component returns raw component c (1-based; 0 for all) of a raw repetition.
func (m *Message) Component(rep string, c int) string {
	if c == 0 {
		return rep
	}
	parts := strings.Split(rep, string(m.Delims.Component))
	if c > len(parts) {
		return ""
	}
	return parts[c-1]
}

// Subcomponent returns raw subcomponent n (1-based) of a raw component.
func (m *Message) Subcomponent(comp string, n int) string {
	parts := strings.Split(comp, string(m.Delims.Subcomponent))
	if n < 1 || n > len(parts) {
		return ""
	}
	return parts[n-1]
}

// SplitBatch splits a batch file (FHS/BHS ... BTS/FTS) or several
// concatenated messages into one message each.
func SplitBatch(data []byte) ([]*Message, error) {
	all, err := ParseSegments(data)
	if err != nil {
		return nil, err
	}
	var out []*Message
	var cur *Message
	for _, s := range all.Segments {
		switch s.Name() {
		case "FHS", "BHS", "BTS", "FTS":
			cur = nil
			continue
		case "MSH":
			cur = &Message{Delims: all.Delims}
			out = append(out, cur)
		}
		if cur == nil {
			return nil, fmt.Errorf("hl7: segment %d (%s) is outside any message", s.Index, s.Name())
		}
		seg := *s
		seg.Index = len(cur.Segments) + 1
		cur.Segments = append(cur.Segments, &seg)
	}
	if len(out) == 0 {
		return nil, ErrNoMSH
	}
	return out, nil
}
