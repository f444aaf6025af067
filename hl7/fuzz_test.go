package hl7_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/nhs-genomics/results-gateway/hl7"
)

// FuzzParse: no input makes the parser panic or hang, and whatever it
// parses writes back byte for byte. `make fuzz` runs it longer.
func FuzzParse(f *testing.F) {
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.5.1\rPID|1||9990000018^^^NHS^NH\rOBX|1|ED|x||^AP^PDF^Base64^JVBERi0=\r"))
	f.Add([]byte("MSH#$%!*#A\nNTE#1##!F!!X41!\r\n"))
	f.Add([]byte("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A\rBTS|1\rFTS|1"))
	for _, file := range sharedSamples(f) {
		if raw, err := os.ReadFile(file); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := hl7.ParseSegments(data)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Bytes(), data) {
			t.Fatalf("parse is not loss-free for %q", data)
		}
		for _, s := range m.Segments {
			for i := range s.Fields {
				m.Unescape(s.Field(i))
				m.Value(s, i, 2)
			}
		}
		hl7.SplitBatch(data)
	})
}

// FuzzFrameReader: no byte stream makes the MLLP framer panic or loop.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0x0b, 'M', 'S', 'H', 0x1c, 0x0d})
	f.Add([]byte{0x0b, 0x0b, 0x1c})
	f.Add([]byte("junk\x0bMSH|^~\\&\r\x1c\r\x0bsecond\x1c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := hl7.NewFrameReader(bytes.NewReader(data), 1<<16)
		for i := 0; i <= len(data); i++ { // each frame consumes at least one byte
			frame, err := r.Next()
			if err != nil {
				return
			}
			if bytes.IndexByte(frame, hl7.EndBlock) >= 0 || bytes.IndexByte(frame, hl7.StartBlock) >= 0 {
				t.Fatalf("frame %q holds a framing byte", frame)
			}
		}
		t.Fatal("framer returned more frames than bytes")
	})
}
