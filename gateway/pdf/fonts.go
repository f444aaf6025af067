package pdf

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/jung-kurt/gofpdf"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// A report whose every character is in Windows-1252 (most UK names, Ó and
// ë included) prints in the PDF core font Helvetica. Any other prints in
// DejaVu Sans (fonts/, Bitstream Vera licence), embedded as TrueType with
// gofpdf's UTF-8 support, so a name prints as written: every Latin letter,
// Vietnamese (Nguyễn), Yoruba and Igbo with dots below and tone marks
// (Adébáyọ̀), Azerbaijani ə, Welsh, Polish, Turkish, Romanian, Greek and
// Cyrillic, and the symbols reports use (≥ ≤ ± µ °).
//
// Scripts written right to left or whose letters join or reorder (Hebrew,
// Arabic, the Indic scripts) are not printed even where the font has their
// letters: gofpdf lays glyphs out left to right, one by one, so שלום would
// print backwards and Arabic as unjoined letters, a name that looks
// plausible and is wrong. Those, and scripts the font lacks (Chinese,
// Japanese, Korean), print as U+FFFD (a visible replacement mark), the
// report carries a warning naming the field, and the PDF's first page says
// which fields it cannot show in full.
//
// Embedding the font costs about 10 ms a report (gofpdf parses and subsets
// it each time), which only reports that need it pay.
const unicodeFamily = "DejaVuSans"

// coreFamily is the PDF core font used when Windows-1252 suffices.
const coreFamily = "Helvetica"

// replacement is what prints in place of a character the font lacks.
const replacement = '\uFFFD'

var (
	//go:embed fonts/DejaVuSans.ttf
	dejaVuSans []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	dejaVuSansBold []byte
)

var (
	fontFaces = []struct {
		style string
		ttf   []byte
	}{{"", dejaVuSans}, {"B", dejaVuSansBold}} // the report uses regular and bold
	coverage = mustCoverage(dejaVuSans)
	cp1252   = charmap.Windows1252.NewEncoder()
)

// fonts chooses the report's font family and registers it: the core font
// when Windows-1252 holds every character, else the embedded Go fonts.
// It returns the family and the text translator to print with.
func fonts(f *gofpdf.Fpdf, r *gateway.Report) (family string, tr func(string) string) {
	needUnicode := false
	gateway.WalkStrings(r, func(_, s string) {
		if !needUnicode {
			if _, err := cp1252.String(norm.NFC.String(s)); err != nil {
				needUnicode = true
			}
		}
	})
	if !needUnicode {
		return coreFamily, func(s string) string { return toCP1252(norm.NFC.String(spaceControls(s))) }
	}
	for _, face := range fontFaces {
		f.AddUTF8FontFromBytes(unicodeFamily, face.style, face.ttf)
	}
	return unicodeFamily, printable
}

// spaceControls turns tabs into spaces and other control characters but
// the line break into one space: no font draws them, and dropped, "Tab\there"
// printed as "Tabhere".
func spaceControls(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return s
	}
	return tabsAsSpaces.Replace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' { // C0, DEL and C1 (an 8859 \X85\ escape)
			return ' '
		}
		return r
	}, s))
}

var tabsAsSpaces = strings.NewReplacer("\t", "    ")

// toCP1252 writes s in Windows-1252, the code page gofpdf's core fonts
// print, as gofpdf's own translator does ('.' for what the code page lacks,
// C1 controls included). That translator is not used: it parses its table
// again for every report, and the function it returns writes into one
// buffer of its own, so two reports rendered at once would garble each
// other.
func toCP1252(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch c, ok := charmap.Windows1252.EncodeRune(r); {
		case r < 0x80:
			b = append(b, byte(r))
		case r < 0xA0 || !ok:
			b = append(b, '.')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// glyphs says which characters of the Basic Multilingual Plane a font can
// draw, looked up once when the program starts.
type glyphs struct {
	bmp [0x10000 / 64]uint64
}

func mustCoverage(ttf []byte) *glyphs {
	font, err := sfnt.Parse(ttf)
	if err != nil {
		panic(fmt.Sprintf("embedded font: %v", err))
	}
	g := &glyphs{}
	var b sfnt.Buffer
	for r := rune(0); r < 0x10000; r++ {
		if i, err := font.GlyphIndex(&b, r); err == nil && i != 0 && laidOutOneByOne(r) || r == '\n' || r == '\t' {
			g.bmp[r/64] |= 1 << (r % 64)
		}
	}
	return g
}

// laidOutOneByOne says whether r belongs to a script gofpdf prints right:
// left to right, each letter its own glyph, combining accents over the
// letter before them. Hebrew and Arabic (right to left, Arabic's letters
// joined) and the Indic scripts (letters reordered and combined) are not.
func laidOutOneByOne(r rune) bool {
	// Nor are the characters that reorder what is around them (RLO, RLE,
	// RLM, the isolates) or are written right to left (Arabic punctuation,
	// the tatweel): gofpdf ignores the first, so "\u202Enosnhoj" prints
	// as nosnhoj where every bidi-aware viewer of the FHIR shows johnson.
	if p, _ := bidi.LookupRune(r); rightToLeftOrReordering[p.Class()] {
		return false
	}
	return unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Armenian, unicode.Georgian, unicode.Common) ||
		r >= 0x0300 && r <= 0x036F || r >= 0x1AB0 && r <= 0x1AFF || r >= 0x1DC0 && r <= 0x1DFF || r >= 0x20D0 && r <= 0x20FF || r >= 0xFE20 && r <= 0xFE2F
}

var rightToLeftOrReordering = map[bidi.Class]bool{bidi.R: true, bidi.AL: true, bidi.AN: true,
	bidi.LRE: true, bidi.RLE: true, bidi.LRO: true, bidi.RLO: true, bidi.PDF: true,
	bidi.LRI: true, bidi.RLI: true, bidi.FSI: true, bidi.PDI: true}

func (g *glyphs) has(r rune) bool {
	return r >= 0 && r < 0x10000 && g.bmp[r/64]&(1<<(r%64)) != 0
}

// printable is s as it will print: composed (NFC, so e + ◌́ is é) with
// each character the font lacks replaced by U+FFFD.
func printable(s string) string {
	s = norm.NFC.String(spaceControls(s))
	return strings.Map(func(r rune) rune {
		if coverage.has(r) {
			return r
		}
		return replacement
	}, s)
}

// Unprintable lists, for every field of r that holds characters the PDF's
// fonts cannot draw, a warning naming the field and the characters, so the
// report says that its PDF shows a replacement mark there.
func Unprintable(r *gateway.Report) []gateway.Warning {
	var out []gateway.Warning
	for _, u := range unprintableFields(r) {
		var chars []string
		for _, c := range u.chars {
			chars = append(chars, fmt.Sprintf("%c (U+%04X)", c, c))
		}
		out = append(out, gateway.Warning{Path: u.path, Message: "holds characters the PDF's font cannot show, printed there as \uFFFD: " +
			strings.Join(chars, ", ") + "; the FHIR and HL7 v2 outputs carry them as written"})
	}
	return out
}

// unprintable is one field holding characters the fonts lack.
type unprintable struct {
	path  string
	chars []rune // in code point order, each once
}

func unprintableFields(r *gateway.Report) []unprintable {
	var out []unprintable
	gateway.WalkStrings(r, func(path, s string) {
		missing := map[rune]bool{}
		for _, c := range norm.NFC.String(spaceControls(s)) {
			if !coverage.has(c) {
				missing[c] = true
			}
		}
		if len(missing) == 0 {
			return
		}
		u := unprintable{path: path}
		for c := range missing {
			u.chars = append(u.chars, c)
		}
		sort.Slice(u.chars, func(i, j int) bool { return u.chars[i] < u.chars[j] })
		out = append(out, u)
	})
	return out
}
