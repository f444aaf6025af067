package hl7v2_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// TestEDRowsJoinedOrKeptApart: consecutive ED rows with one code are one
// document when the later rows continue the data (a PDF too long for one
// OBX-5), and two when each row starts a file of its own (two pedigree
// images): each document filed decodes on its own.
func TestEDRowsJoinedOrKeptApart(t *testing.T) {
	pngOf := func(c color.Gray) []byte {
		img := image.NewGray(image.Rect(0, 0, 4, 4))
		for i := range img.Pix {
			img.Pix[i] = c.Y
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		return b.Bytes()
	}
	pdfOf := func(text string) []byte {
		return []byte("%PDF-1.4\n% " + text + "\n" + strings.Repeat("0123456789", 20) + "\n%%EOF\n")
	}
	b64 := base64.StdEncoding.EncodeToString
	black, white := pngOf(color.Gray{0}), pngOf(color.Gray{255})
	report, letter := pdfOf("the report"), pdfOf("a covering letter")
	ed := func(subtype, sub string, parts ...string) []string {
		var rows []string
		for _, p := range parts {
			rows = append(rows, "OBX|1|ED|IMG^Pedigree image^L|"+sub+"|^IM^"+subtype+"^Base64^"+p+"||||||F")
		}
		return rows
	}
	cases := []struct {
		name string
		rows []string
		want [][]byte // the files filed (the report's PDF first, then attachments)
	}{
		{"two PNG images, each with its signature", ed("PNG", "", b64(black), b64(white)), [][]byte{black, white}},
		{"two PNG images with sub-IDs", append(ed("PNG", "1", b64(black)), ed("PNG", "2", b64(white))...), [][]byte{black, white}},
		{"one PNG split over two rows", ed("PNG", "", b64(black)[:40], b64(black)[40:]), [][]byte{black}},
		{"one PDF split over three rows", ed("PDF", "", b64(report)[:100], b64(report)[100:200], b64(report)[200:]), [][]byte{report}},
		{"two PDFs", ed("PDF", "", b64(report), b64(letter)), [][]byte{report, letter}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := append([]string{
				"OBR|1|ORD-1|REP-1|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F",
				"OBX|1|TX|RES^Result^L||No variant detected.||||||F"}, c.rows...)
			d := decodeWith(t, msg("2.5.1", pid1286, lines...), hl7v2.SenderOptions{})
			var got [][]byte
			if d.Report.PDF != nil {
				got = append(got, d.Report.PDF.Data)
			}
			for _, a := range d.Report.Attachments {
				got = append(got, a.Data)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d documents filed, want %d (unmapped %v)", len(got), len(c.want), d.Unmapped)
			}
			for i := range got {
				if !bytes.Equal(got[i], c.want[i]) {
					t.Errorf("document %d is not the file sent (%d bytes, want %d)", i+1, len(got[i]), len(c.want[i]))
				}
				if bytes.HasPrefix(got[i], []byte("\x89PNG")) {
					if _, err := png.Decode(bytes.NewReader(got[i])); err != nil {
						t.Errorf("document %d does not decode as a PNG: %v", i+1, err)
					}
				}
			}
			if len(d.Unmapped) != 0 {
				t.Errorf("unmapped %+v", d.Unmapped)
			}
		})
	}
}
