package hl7_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nhs-genomics/results-gateway/hl7"
)

func TestParseValuesAndEscapes(t *testing.T) {
	for _, tc := range []struct {
		name, msg   string
		seg         string
		field, comp int
		want        string
	}{
		{"component", "MSH|^~\\&|LAB|699X0|EPR|R0A|20261102||ORU^R01^ORU_R01|1|P|2.5.1\rPID|1||9990000018^^^NHS^NH", "PID", 3, 4, "NHS"},
		{"first repetition", "MSH|^~\\&|A|B\rPID|1||111^^^A^MR~9990000018^^^NHS^NH", "PID", 3, 1, "111"},
		{"escaped delimiters", "MSH|^~\\&|A|B\rNTE|1||a \\F\\ b \\S\\ c \\T\\ d \\R\\ e \\E\\ f", "NTE", 3, 0, "a | b ^ c & d ~ e \\ f"},
		{"hex and line break", "MSH|^~\\&|A|B\rNTE|1||caf\\XC3A9\\\\.br\\next", "NTE", 3, 0, "café\nnext"},
		{"formatting dropped", "MSH|^~\\&|A|B\rNTE|1||\\H\\bold\\N\\ text", "NTE", 3, 0, "bold text"},
		{"hex line endings are line breaks", "MSH|^~\\&|A|B\rNTE|1||L1\\X0D\\L2\\X0A\\L3\\X0D0A\\L4\\X0D\\\\X0A\\L5\\X4C360D\\", "NTE", 3, 0, "L1\nL2\nL3\nL4\nL5L6\n"},
		{"spacing commands separate words", "MSH|^~\\&|A|B\rNTE|1||normal\\.sp\\next\\.sp 2\\after\\.sk 3\\x\\.ce\\c\\.in 4\\d", "NTE", 3, 0, "normal\nnext\n\nafter   x\ncd"},
		{"spacing bounded", "MSH|^~\\&|A|B\rNTE|1||a\\.sp 999999\\b", "NTE", 3, 0, "a" + strings.Repeat("\n", 20) + "b"},
		{"odd delimiters", "MSH#$%!*#A#B\rPID#1##9990000018$$$NHS$NH%222$$$X$MR", "PID", 3, 5, "NH"},
		{"odd escape", "MSH#$%!*#A#B\rNTE#1##x !F! y !S! z", "NTE", 3, 0, "x # y $ z"},
		{"LF terminators", "MSH|^~\\&|A|B\nPID|1||42", "PID", 3, 0, "42"},
		{"CRLF terminators", "MSH|^~\\&|A|B\r\nPID|1||42\r\n", "PID", 3, 0, "42"},
		{"MSH-9 trigger", "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|9|P|2.3", "MSH", 9, 2, "R01"},
		{"MSH-10", "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|CTRL-9|P|2.3", "MSH", 10, 0, "CTRL-9"},
		{"missing field", "MSH|^~\\&|A|B\rPID|1", "PID", 30, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := hl7.Parse([]byte(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Value(m.First(tc.seg), tc.field, tc.comp); got != tc.want {
				t.Fatalf("%s-%d.%d = %q, want %q", tc.seg, tc.field, tc.comp, got, tc.want)
			}
			if !bytes.Equal(m.Bytes(), []byte(tc.msg)) {
				t.Fatalf("not written back byte for byte:\n%q\n%q", m.Bytes(), tc.msg)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"", "PID|1||x", "MSH|^", "MSH|^~\\&|A\rP|1"} {
		if _, err := hl7.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted a broken message", bad)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	d := hl7.DefaultDelimiters
	for _, s := range []string{"plain", "a|b^c~d\\e&f", "line one\nline two", "NM_000059.4:c.68_69del", "p.(Arg1443Ter)"} {
		b := hl7.NewBuilder()
		b.MSH("A")
		b.Add("NTE", "1", "", b.V(s))
		m, err := hl7.Parse(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Value(m.First("NTE"), 3, 0); got != s {
			t.Errorf("escape round trip of %q gave %q (escaped %q)", s, got, d.EscapeText(s))
		}
	}
}

// sharedSamples are the public ORU messages in ../shared/data/hl7v2.
func sharedSamples(t testing.TB) []string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "data", "hl7v2")
	var files []string
	for _, pattern := range []string{"*/*.hl7", "vcf2hl7v2/expected_*.txt"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		files = append(files, m...)
	}
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("no samples under %s", dir)
		}
		t.Skipf("../shared/data/hl7v2 is absent in this clone")
	}
	return files
}

func TestSharedSamplesParseLossFree(t *testing.T) {
	for _, f := range sharedSamples(t) {
		raw, _ := os.ReadFile(f)
		m, err := hl7.ParseSegments(raw)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if !bytes.Equal(m.Bytes(), raw) {
			t.Errorf("%s: not written back byte for byte", filepath.Base(f))
		}
	}
}

func TestBatch(t *testing.T) {
	batch := "FHS|^~\\&|LAB\rBHS|^~\\&|LAB\rMSH|^~\\&|LAB|X|||||ORU^R01|1|P|2.3\rPID|1\rMSH|^~\\&|LAB|X|||||ORU^R01|2|P|2.3\rPID|2\rBTS|2\rFTS|1\r"
	msgs, err := hl7.SplitBatch([]byte(batch))
	if err != nil || len(msgs) != 2 {
		t.Fatalf("SplitBatch = %d messages, %v", len(msgs), err)
	}
	if got := msgs[1].Value(msgs[1].First("MSH"), 10, 0); got != "2" {
		t.Fatalf("second message MSH-10 = %q", got)
	}
}

func TestAck(t *testing.T) {
	m, _ := hl7.Parse([]byte("MSH|^~\\&|LIMS|699X0|GW|RG|20261102||ORU^R01^ORU_R01|CTRL1|P|2.5.1|||AL|NE\rPID|1"))
	ack := hl7.Ack(m, hl7.AE, "ACK1", []hl7.AckError{{Location: hl7.ErrorLocation{"PID", 1, 3, 1}, Code: "102", Text: "PID-3.1 is not a valid NHS number"}}, time.Now())
	a, err := hl7.Parse(ack)
	if err != nil {
		t.Fatal(err)
	}
	code, ctrl, text := hl7.AckCode(a)
	if code != "AE" || ctrl != "CTRL1" || text != "PID-3.1 is not a valid NHS number" {
		t.Fatalf("AckCode = %q %q %q", code, ctrl, text)
	}
	msh := a.First("MSH")
	if a.Value(msh, 3, 0) != "GW" || a.Value(msh, 5, 0) != "LIMS" || a.Value(msh, 12, 0) != "2.5.1" || a.Value(msh, 9, 1) != "ACK" {
		t.Fatalf("ACK header not swapped: %q", ack)
	}
	if loc := a.Value(a.First("ERR"), 2, 1); loc != "PID" || a.Component(a.First("ERR").Field(2), 3) != "3" {
		t.Fatalf("ERR-2 = %q", a.First("ERR").Field(2))
	}
}

func TestFrames(t *testing.T) {
	one := []byte("MSH|^~\\&|A\rPID|1\r")
	var stream bytes.Buffer
	hl7.WriteFrame(&stream, one)
	stream.WriteString("noise")
	hl7.WriteFrame(&stream, []byte("MSH|^~\\&|B\r"))
	// Deliver the stream one byte per read: frames split across reads.
	r := hl7.NewFrameReader(iotestOneByte{bytes.NewReader(stream.Bytes())}, 1<<20)
	first, err := r.Next()
	if err != nil || !bytes.Equal(first, one) {
		t.Fatalf("first frame = %q, %v", first, err)
	}
	second, err := r.Next()
	if err != nil || string(second) != "MSH|^~\\&|B\r" {
		t.Fatalf("second frame = %q, %v", second, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end of stream = %v", err)
	}
	big := hl7.NewFrameReader(bytes.NewReader(append(append([]byte{hl7.StartBlock}, bytes.Repeat([]byte("x"), 100)...), hl7.EndBlock, '\r')), 50)
	if _, err := big.Next(); err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Fatalf("oversized frame: %v", err)
	}
	cut := hl7.NewFrameReader(bytes.NewReader([]byte{hl7.StartBlock, 'M', 'S'}), 50)
	if _, err := cut.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated frame: %v", err)
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestLineBreaksAndJunkLIMSLeave: in a message whose segments end with CR,
// a lone LF typed into a field stays in it, even before a word and the
// field separator ("The|"); an LF before a segment id still ends the
// segment (a message with both endings); lines of blanks and an
// end-of-file byte after the last segment are not segments. The message
// still writes back byte for byte.
func TestLineBreaksAndJunkLIMSLeave(t *testing.T) {
	msg := "MSH|^~\\&|LIMS|699X0|EPR|R0A|20261105093000||ORU^R01|C-1|P|2.5.1\r" +
		"OBX|1|TX|51969-4^Narrative^LN||No variant was detected.\nSecond line typed with Enter.||||||F\r" +
		"OBX|2|TX|51969-4^Narrative^LN||First line\nThe|variant list was reviewed.||||||F\n" +
		"NTE|1|L|after an LF\r   \r\n\x1a"
	m, err := hl7.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range m.Segments {
		names = append(names, s.Name())
	}
	if strings.Join(names, " ") != "MSH OBX OBX NTE" {
		t.Fatalf("segments %v", names)
	}
	if got := m.Value(m.Segments[1], 5, 0); got != "No variant was detected.\nSecond line typed with Enter." {
		t.Errorf("OBX[1]-5 = %q", got)
	}
	if got := m.Segments[2].Field(5); got != "First line\nThe" || m.Segments[2].Field(6) != "variant list was reviewed." {
		t.Errorf("OBX[2]-5 %q, -6 %q: the lone LF's line is the field's", got, m.Segments[2].Field(6))
	}
	if got := m.Value(m.Segments[3], 3, 0); got != "after an LF" {
		t.Errorf("NTE-3 = %q", got)
	}
	if string(m.Bytes()) != msg {
		t.Errorf("not written back as read:\n%q\n%q", m.Bytes(), msg)
	}
	// A comment line of capitals is not a segment, nor a word before the
	// field separator; a Z-segment is.
	m, err = hl7.Parse([]byte("MSH|^~\\&|LIMS|699X0\rOBX|1|TX|x||Classification:\nVUS||||||F\rNTE|1|L|Reported by\nJMS\nZRG|1|local\r"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Value(m.Segments[1], 5, 0); got != "Classification:\nVUS" || m.Value(m.Segments[1], 11, 0) != "F" {
		t.Errorf("OBX-5 %q, OBX-11 %q", got, m.Value(m.Segments[1], 11, 0))
	}
	if len(m.Segments) != 4 || m.Value(m.Segments[2], 3, 0) != "Reported by\nJMS" || m.Segments[3].Name() != "ZRG" {
		t.Errorf("NTE-3 %q, %d segments", m.Value(m.Segments[2], 3, 0), len(m.Segments))
	}
	// LF-ended, with a stray CRLF at the end: still LF-ended; and a last
	// field's trailing blanks are the field's.
	m, err = hl7.Parse([]byte("MSH|^~\\&|LIMS|699X0\nPID|1||42\nOBX|1|TX|x||text  \r\n"))
	if err != nil || len(m.Segments) != 3 || m.Value(m.Segments[1], 3, 0) != "42" {
		t.Fatalf("an LF-ended message with a stray CR: %v", err)
	}
	m, _ = hl7.Parse([]byte("MSH|^~\\&|LIMS|699X0\rOBX|1|TX|x||text  "))
	if got := m.Value(m.Segments[1], 5, 0); got != "text  " {
		t.Errorf("the last field %q lost its blanks", got)
	}
	lf := "MSH|^~\\&|LIMS|699X0\nPID|1||9990000093^^^NHS^NH\nOBX|1|TX|x||text||||||F\n" // LF-ended throughout: each LF ends a segment
	if m, err := hl7.Parse([]byte(lf)); err != nil || len(m.Segments) != 3 {
		t.Errorf("an LF-ended message: %v", err)
	}
}

// TestAckWritesItsOwnDelimitersAndWholeCharacters: a sender's MSH written
// with other delimiters is answered in the ACK's own (a component stays a
// component, a literal '^' is escaped); MSA-3, cut to 80 bytes, is cut
// between characters; a problem with no place in the message has no ERR-2.
func TestAckWritesItsOwnDelimitersAndWholeCharacters(t *testing.T) {
	m, err := hl7.Parse([]byte("MSH$!*?#$LIMS!A^B$699X0$GW$RG$20261102$$ORU!R01$CTRL1$P$2.5.1\rPID$1"))
	if err != nil {
		t.Fatal(err)
	}
	long := "a" + strings.Repeat("é", 60) // 121 bytes: byte 80 is inside a character
	ack := hl7.Ack(m, hl7.AE, "ACK1", []hl7.AckError{{Location: hl7.ErrorLocation{Sequence: 1}, Code: "207", Text: long}}, time.Now())
	if !utf8.Valid(ack) {
		t.Fatalf("the ACK is not valid UTF-8: %q", ack)
	}
	a, err := hl7.Parse(ack)
	if err != nil {
		t.Fatal(err)
	}
	msh := a.First("MSH")
	if a.Value(msh, 5, 1) != "LIMS" || a.Value(msh, 5, 2) != "A^B" {
		t.Errorf("MSH-5 = %q, want LIMS as component 1 and a literal A^B as component 2", msh.Field(5))
	}
	if got := a.Value(a.First("MSA"), 3, 0); got != "a"+strings.Repeat("é", 39) {
		t.Errorf("MSA-3 = %q", got)
	}
	if loc := a.First("ERR").Field(2); loc != "" {
		t.Errorf("ERR-2 = %q for a problem with no place", loc)
	}
}
