package hl7v2_test

import (
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// TestCharacterSetFromMSH18: a message is read in the set its MSH-18
// declares (HL7 table 0211); the Windows-1252 guess is only for a message
// that declares none, or one the gateway does not know, or one its bytes
// cannot be, and then a note names MSH-18.
func TestCharacterSetFromMSH18(t *testing.T) {
	header := func(msh18 string) string {
		return "MSH|^~\\&|LIMS|699X0|EPR|R0A|20261105093000||ORU^R01^ORU_R01|C-1|P|2.5.1|||AL|NE||" + msh18 + "\rPID|1||9990000093^^^NHS^NH||"
	}
	cases := []struct {
		msh18, name, want string
		note              string // a part of the note; "" for none
	}{
		{"8859/2", "\xa3UKASIEWICZ^\xafaneta", "ŁUKASIEWICZ^Żaneta", ""},
		{"ISO-8859-2", "\xa3UKASIEWICZ", "ŁUKASIEWICZ", ""},
		{"8859/2~ISO IR87", "\xa3UKASIEWICZ", "ŁUKASIEWICZ", ""}, // the first repetition is the default set
		{"8859/1", "GARC\xcdA^Jos\xe9", "GARCÍA^José", ""},
		{"8859/1", "O\x92REILLY", "O’REILLY", ""}, // 0x80-0x9F are no text in 8859/1: read as Windows-1252
		{"8859/5", "\xb8\xd2\xd0\xdd\xde\xd2", "Иванов", ""},
		{"8859/7", "\xc3\xe5\xf9\xf1\xe3\xdf\xef\xf5", "Γεωργίου", ""},
		{"8859/9", "Y\xddLD\xddZ", "YİLDİZ", ""},
		{"8859/15", "\xa4 \xbc", "€ Œ", ""},
		{"UNICODE UTF-8", "ŁUKASIEWICZ", "ŁUKASIEWICZ", ""},
		{"ASCII", "SMITH", "SMITH", ""},
		// What the bytes cannot be, or no declaration: the guess, and a note naming MSH-18 where it said something.
		{"8859/1", "Si\xc3\xa2n", "Siân", `MSH-18 declares "8859/1" but the message is valid UTF-8`},
		{"UNICODE UTF-8", "O\x92REILLY", "O’REILLY", `MSH-18 declares "UNICODE UTF-8" but the message is not UTF-8`},
		{"ASCII", "caf\xe9", "café", `MSH-18 declares "ASCII" but the message is not UTF-8`},
		{"KOI8-R", "caf\xe9", "café", `MSH-18 "KOI8-R" is not a character set the gateway knows`},
		{"", "O\x92REILLY", "O’REILLY", "read as Windows-1252"},
		{"", "Zo\xc3\xab", "Zoë", ""},
	}
	for _, c := range cases {
		t.Run(c.msh18+" "+c.want, func(t *testing.T) {
			out, note := hl7v2.ToUTF8([]byte(header(c.msh18) + c.name + "||19800101|F\r"))
			if !strings.Contains(string(out), "||"+c.want+"||") {
				t.Errorf("read as %q, want %q", out, c.want)
			}
			if c.note == "" && note != "" || !strings.Contains(note, c.note) {
				t.Errorf("note %q, want %q", note, c.note)
			}
		})
	}

	t.Run("a batch is read in its first message's set", func(t *testing.T) {
		out, _ := hl7v2.ToUTF8([]byte("FHS|^~\\&|LIMS\rBHS|^~\\&|LIMS\r" + header("8859/2") + "\xa3UKASIEWICZ||19800101|F\r"))
		if !strings.Contains(string(out), "ŁUKASIEWICZ") {
			t.Errorf("read as %q", out)
		}
	})

	t.Run("the patient's name as filed", func(t *testing.T) {
		raw := header("8859/2") + "\xa3UKASIEWICZ^\xafaneta||19800101|F\r" +
			"OBR|1|ORD-1|REP-1|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F\r" +
			"OBX|1|TX|RES^Result^L||No variant detected.||||||F\r"
		got := decodeAndMap(t, []byte(raw), hl7v2.SenderOptions{})
		if n := got.d.Report.Patient.Name; n.Family != "ŁUKASIEWICZ" || strings.Join(n.Given, " ") != "Żaneta" {
			t.Errorf("name %+v", n)
		}
	})
}
