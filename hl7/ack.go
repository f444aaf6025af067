package hl7

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Acknowledgement codes (MSA-1): original mode AA/AE/AR, enhanced mode
// commit acknowledgements CA/CE/CR.
const (
	AA = "AA" // application accept: durably stored
	AE = "AE" // application error: the content is wrong; do not resend it unchanged
	AR = "AR" // application reject: cannot take it now (or not this message type); resend later
	CA = "CA"
	CE = "CE"
	CR = "CR"
)

// ErrorLocation is where a problem is: segment id, its sequence among
// segments of that id, field, component (0 when not applicable).
type ErrorLocation struct {
	Segment   string
	Sequence  int
	Field     int
	Component int
}

func (l ErrorLocation) String() string {
	s := fmt.Sprintf("%s-%d", l.Segment, l.Field)
	if l.Component > 0 {
		s += fmt.Sprintf(".%d", l.Component)
	}
	return s
}

// AckError is one problem reported in an ERR segment.
type AckError struct {
	Location ErrorLocation
	Code     string // HL7 table 0357: 100 segment sequence, 101 required field missing, 102 data type, 103 table value, 200 unsupported message type, 207 application internal error
	Text     string
	Severity string // ERR-4 (table 0516): E error (the default), W warning, I information
}

// Ack builds the acknowledgement of msg: sender and receiver swapped, the
// same version, MSA-2 echoing MSH-10, one ERR per problem (ERR-2 location,
// ERR-3 code, ERR-4 severity, ERR-8 text; ERR-1 too for versions before 2.5).
func Ack(msg *Message, code, controlID string, errs []AckError, now time.Time) []byte {
	msh := msg.First("MSH")
	b := NewBuilder()
	version := msg.Value(msh, 12, 1)
	trigger := msg.Value(msh, 9, 2)
	field := func(n int) string { return msg.Delims.Recode(msh.Field(n), b.d) }
	b.MSH(field(5), field(6), field(3), field(4), now.UTC().Format("20060102150405"),
		"", b.C("ACK", trigger, "ACK"), b.V(controlID), field(11), field(12))
	text := ""
	for _, e := range errs {
		if e.Severity == "" || e.Severity == "E" {
			text = e.Text // MSA-3 names the first error, never a mere warning
			break
		}
	}
	b.Add("MSA", code, field(10), b.V(clip(text, 80)))
	old := strings.HasPrefix(version, "2.3") || strings.HasPrefix(version, "2.4")
	for _, e := range errs {
		loc, err1 := "", ""
		if e.Location.Segment != "" { // a problem with no place in the message has no location
			loc = b.CRaw(e.Location.Segment, itoa(e.Location.Sequence), itoa(e.Location.Field), "", itoa(e.Location.Component))
		}
		if old {
			err1 = b.CRaw(e.Location.Segment, itoa(e.Location.Sequence), itoa(e.Location.Field), b.S(e.Code, e.Text))
		}
		severity := e.Severity
		if severity == "" {
			severity = "E"
		}
		b.Add("ERR", err1, loc, b.C(e.Code, codeText[e.Code], "HL70357"), severity, "", "", "", b.V(e.Text))
	}
	return b.Bytes()
}

var codeText = map[string]string{
	"0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing", "102": "Data type error",
	"103": "Table value not found", "200": "Unsupported message type", "204": "Unknown key identifier",
	"207": "Application internal error",
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// clip cuts s to at most n bytes, at a character's start: cut inside a
// UTF-8 sequence, the acknowledgement would not be valid UTF-8.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// AckCode reads MSA-1 and MSA-2 of an acknowledgement, and the text of its
// ERR segments (or MSA-3) for people.
func AckCode(ack *Message) (code, controlID, text string) {
	msa := ack.First("MSA")
	if msa == nil {
		return "", "", "no MSA segment"
	}
	var texts []string
	for _, s := range ack.Segments {
		if s.Name() == "ERR" {
			t := ack.Value(s, 8, 0)
			if t == "" {
				t = ack.Value(s, 3, 2)
			}
			if t == "" {
				t = ack.Unescape(ack.Subcomponent(ack.Component(s.Field(1), 4), 2))
			}
			if t != "" {
				texts = append(texts, t)
			}
		}
	}
	if len(texts) == 0 {
		if t := ack.Value(msa, 3, 0); t != "" {
			texts = append(texts, t)
		}
	}
	return ack.Value(msa, 1, 0), ack.Value(msa, 2, 0), strings.Join(texts, "; ")
}
