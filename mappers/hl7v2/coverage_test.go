package hl7v2_test

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// TestEveryFactMappedOrListed is the "nothing dropped silently" check, on
// every public sample in ../shared/data/hl7v2 and every synthetic message:
// each OBX value, NTE comment and patient identifier is found in the FHIR
// Bundle, or is on the report's unmapped list with its location. A decoder
// that read a field but never carried it to the Bundle fails here.
func TestEveryFactMappedOrListed(t *testing.T) {
	type msg struct {
		name string
		raw  []byte
	}
	var msgs []msg
	for _, s := range peers.HL7Samples(t) {
		msgs = append(msgs, msg{s.Name, s.Raw})
	}
	for _, f := range fixtures.HL7() {
		msgs = append(msgs, msg{"fixtures/" + f.Name, f.Body})
	}
	if len(msgs) < 25 {
		t.Fatalf("only %d messages found", len(msgs))
	}
	for _, mg := range msgs {
		t.Run(mg.name, func(t *testing.T) {
			got := decodeAndMap(t, mg.raw, ukSender)
			if !got.d.Report.Patient.Identified() {
				if len(got.refuse) == 0 {
					t.Fatal("a message that identifies no patient was not refused")
				}
				t.Logf("refused for want of a patient identity: nothing is filed, so nothing can be dropped")
				return
			}
			raw, _ := hl7v2.ToUTF8(mg.raw)
			m, _ := hl7.Parse(raw)
			listed := map[string]bool{}
			for _, u := range got.d.Unmapped {
				listed[u.Location] = true
				listed[strings.SplitN(u.Location, "-", 2)[0]] = true
			}
			seq := map[string]int{}
			missing := 0
			for _, s := range m.Segments {
				seq[s.Name()]++
				where := s.Name() + "[" + strconv.Itoa(seq[s.Name()]) + "]"
				for _, fact := range facts(m, s) {
					if listed[where] || listed[where+"-"+strconv.Itoa(fact.field)] || got.has(fact.text) {
						continue
					}
					missing++
					t.Errorf("%s-%d %q is neither in the Bundle nor listed as unmapped", where, fact.field, fact.text)
				}
			}
			t.Logf("%d unmapped entries, %d warnings", len(got.d.Unmapped), len(got.d.Warnings))
		})
	}
}

var directoryNote = regexp.MustCompile(`^([RM]\d{1,4}(?:\.\d{1,2})?)=(?:PACKAGE|PANEL|TEST)?:?\s*(?:[RM]\d{1,4}(?:\.\d{1,2})?\s*-\s*)?(.*)$`)

type fact struct {
	field int
	text  string
}

// facts are the values of a segment that must reach the Bundle: OBX-5
// (text as written, numbers, codes and their text; documents by content),
// NTE-3, and PID-3 identifiers.
func facts(m *hl7.Message, s *hl7.Segment) []fact {
	var out []fact
	switch s.Name() {
	case "PID":
		for _, rep := range m.Repetitions(s.Field(3)) {
			if id := strings.TrimSpace(m.Unescape(m.Component(rep, 1))); id != "" {
				out = append(out, fact{3, id})
			}
		}
	case "NTE":
		for _, rep := range m.Repetitions(s.Field(3)) {
			for _, line := range strings.Split(m.Unescape(rep), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					out = append(out, fact{3, line})
				}
			}
		}
	case "OBX":
		vt := m.Value(s, 2, 0)
		value := s.Field(5)
		switch {
		case value == "" || vt == "DT" || vt == "TS" || vt == "DTM":
		case strings.Contains(value, "JVBERi0") || vt == "ED":
			for _, c := range strings.Split(value, string(m.Delims.Component)) {
				if data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(m.Unescape(c)), "")); err == nil && len(data) > 64 {
					out = append(out, fact{5, base64.StdEncoding.EncodeToString(data)[:64]})
				}
			}
		case vt == "TX" || vt == "FT" || vt == "ST" || vt == "":
			for _, rep := range m.Repetitions(value) {
				for _, line := range strings.Split(m.Unescape(rep), "\n") {
					if line = strings.TrimSpace(line); line != "" {
						out = append(out, fact{5, line})
					}
				}
			}
		default: // coded, numeric, SN, NR: the code or number, and any text
			for _, c := range []int{1, 2, 4} {
				if v := strings.TrimSpace(m.Unescape(m.Component(strings.Split(value, string(m.Delims.Repetition))[0], c))); v != "" &&
					!(vt == "SN" && (v == "<" || v == ">" || v == "=" || v == ":" || v == "-" || v == "/")) && !(c == 4 && vt != "SN" && vt != "NR") {
					out = append(out, fact{5, v})
				}
			}
		}
	}
	return out
}

// has reports whether a fact is in the Bundle or the unmapped list: as
// written, or (for a number) in the form FHIR gives it.
func (d decodedMessage) has(text string) bool {
	text = collapse(text)
	if strings.Contains(d.haystak, text) {
		return true
	}
	// iGene's directory note "R240.1=PACKAGE: R240.1 - Name": the code and the name.
	if m := directoryNote.FindStringSubmatch(text); m != nil {
		return strings.Contains(d.haystak, m[1]) && strings.Contains(d.haystak, collapse(m[2]))
	}
	// A number with a comparator ("<15") is a comparator and a number in
	// FHIR; a fraction may be given as a percentage (0.8 is 80 %).
	number := strings.TrimLeft(text, "<>=")
	if x, err := strconv.ParseFloat(number, 64); err == nil {
		if number != text && !strings.Contains(d.haystak, text[:len(text)-len(number)]) {
			return false
		}
		tokens := " " + d.haystak + " "
		for _, y := range []float64{x, x * 100, x / 100} {
			if strings.Contains(tokens, " "+strconv.FormatFloat(y, 'f', -1, 64)+" ") || strings.Contains(tokens, " "+number+" ") {
				return true
			}
		}
	}
	for _, prefix := range []string{"HGNC:", "c.", "p."} {
		if strings.Contains(d.haystak, strings.TrimPrefix(text, prefix)) && strings.HasPrefix(text, prefix) {
			return true
		}
	}
	return false
}
