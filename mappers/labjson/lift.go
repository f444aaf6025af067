package labjson

import (
	"bytes"

	"github.com/nhs-genomics/results-gateway/internal/pdfbase64"
)

// liftedPDF is the lab's PDF, its base64 as sent (a slice of the body)
// and where that string starts in the body (its opening quote).
type liftedPDF struct {
	data, encoded []byte
	at            int
}

// liftPDFData finds the lab's PDF — the string at top-level "pdf"."data",
// most of a report's bytes — and returns body with that string emptied,
// and the PDF decoded. encoding/json would otherwise run every byte of it
// through its validity scanner, its unquoting and then base64 (a fifth of
// intake's CPU). ok is false, and body is to be decoded as it is, whenever
// anything is out of the ordinary: JSON this walk does not follow, the
// key spelt another way or twice, or a value that is not plain base64.
// Decoding the lifted body then checks the rest exactly as before.
func liftPDFData(body []byte) (lifted []byte, pdf liftedPDF, ok bool) {
	s := scanner{b: body}
	start, end, ok := s.member(s.topLevel(), "pdf", '{')
	if !ok {
		return nil, liftedPDF{}, false
	}
	inner := scanner{b: body[:end]}
	inner.i = start + 1 // inside its brace
	from, to, ok := inner.member(true, "data", '"')
	if !ok {
		return nil, liftedPDF{}, false
	}
	text := body[from+1 : to-1]
	if len(text) == 0 {
		return nil, liftedPDF{}, false
	}
	// encoding/json decodes with the same StdEncoding, which refuses any
	// byte outside the alphabet (an escape's backslash too) but skips CR
	// and LF — which JSON does not allow raw in a string.
	if bytes.IndexByte(text, '\r') >= 0 || bytes.IndexByte(text, '\n') >= 0 {
		return nil, liftedPDF{}, false
	}
	// Strict: padding bits must be zero, so text is exactly pdf's
	// standard base64 and the message log may put it back by encoding pdf
	// (see gateway.Attachment.DataAt). A lax encoding is rare; encoding/json
	// decodes it as before.
	data, err := pdfbase64.DecodeStrict(text)
	if err != nil {
		return nil, liftedPDF{}, false // encoding/json reports it, with its offset
	}
	lifted = make([]byte, 0, len(body)-len(text))
	lifted = append(append(append(lifted, body[:from+1]...), '"'), body[to:]...)
	return lifted, liftedPDF{data: data, encoded: text, at: from}, true
}

// scanner walks JSON that has not been validated; every step checks its
// bounds and gives up (ok false) on what it does not expect.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// topLevel steps into the body's outer object.
func (s *scanner) topLevel() bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	return true
}

// member walks the object s is inside (just past its '{') to its end and
// returns the span of the value of the one member named name, which must
// start with first. Keys are compared as encoding/json matches them (case
// folded), so a second spelling or a second member means ok is false.
func (s *scanner) member(inside bool, name string, first byte) (start, end int, ok bool) {
	if !inside {
		return 0, 0, false
	}
	found := false
	for {
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' && !found {
			return 0, 0, false
		}
		keyStart := s.i
		if !s.str() {
			return 0, 0, false
		}
		key := s.b[keyStart+1 : s.i-1]
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return 0, 0, false
		}
		s.i++
		s.ws()
		valueStart := s.i
		if !s.skip() {
			return 0, 0, false
		}
		if bytes.EqualFold(key, []byte(name)) || bytes.IndexByte(key, '\\') >= 0 {
			if found || string(key) != name || s.b[valueStart] != first {
				return 0, 0, false
			}
			found, start, end = true, valueStart, s.i
		}
		s.ws()
		if s.i >= len(s.b) {
			return 0, 0, false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			return start, end, found
		default:
			return 0, 0, false
		}
	}
}

// str steps over the string at s.i.
func (s *scanner) str() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	s.i++
	for {
		quote := bytes.IndexByte(s.b[s.i:], '"')
		if quote < 0 {
			return false
		}
		if esc := bytes.IndexByte(s.b[s.i:s.i+quote], '\\'); esc >= 0 {
			s.i += esc + 2
			if s.i > len(s.b) {
				return false
			}
			continue
		}
		s.i += quote + 1
		return true
	}
}

// skip steps over one value at s.i: containers by their brackets (strings
// inside them stepped over whole), anything else up to a delimiter.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		return s.str()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if !s.str() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return true
			}
		}
		return false
	default:
		for s.i < len(s.b) && bytes.IndexByte([]byte(",}] \t\n\r"), s.b[s.i]) < 0 {
			s.i++
		}
		return true
	}
}
