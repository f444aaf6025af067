package hl7v2

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// kind decides whether the message is a genomic report or an ordinary
// laboratory one: laboratory when it carries measured results (numbers,
// ranges, units) and nothing genomic — no directory code, no variant, no
// overall interpretation. Text and documents alone are filed as an
// (unstructured) genomic report: this is a genomic results gateway.
func (d *decoder) kind() {
	r := d.r
	switch {
	case r.Kind != "":
		return
	case d.o.ReportKind != "":
		r.Kind = d.o.ReportKind
		return
	case r.Test.Code != "" || len(r.Variants) > 0 || r.Result.Outcome != "" || len(r.Test.GenesStudied) > 0:
		return
	}
	// OBR-24, the diagnostic service section (table 0074), says it outright:
	// cytogenetics (CG) and genetics (GE) are genomic, any other section is not.
	if section := strings.ToUpper(d.val(d.groups[0].obr, 24, 1)); section != "" {
		if section != "CG" && section != "GE" {
			r.Kind = gateway.KindLaboratory
		}
		return
	}
	for _, row := range d.rows {
		if row.used {
			continue
		}
		switch row.valueType {
		case "NM", "SN", "NR":
			r.Kind = gateway.KindLaboratory
			return
		}
		if strings.Trim(row.seg.Field(6)+row.seg.Field(7), "^ ") != "" {
			r.Kind = gateway.KindLaboratory
			return
		}
	}
}

// document is a file found in OBX rows.
type document struct {
	row         *obx
	title       string
	contentType string
	encoded     string // base64, possibly over several rows
	url         string
	own         bool // the gateway's own "attachment" row
	bare        bool // a base64 body with no ED labels
}

var base64Text = regexp.MustCompile(`^[A-Za-z0-9+/]+=*$`)

// documents finds PDFs and other files wherever labs put them: ED rows,
// CE/CWE/TX rows carrying "^...^application/pdf^Base64^...", a bare base64
// body (a PDF is recognised by its decoded %PDF- header), and RP pointers.
// An ED row that continues the previous one (see continues) is joined to it.
func (d *decoder) documents() {
	d.kind()
	var docs []*document
	for _, row := range d.rows {
		if row.used {
			continue
		}
		doc := d.documentIn(row)
		if n := len(docs); doc == nil && n > 0 && docs[n-1].bare && docs[n-1].row.code == row.code && docs[n-1].row.sub == row.sub {
			if text := cleanBase64(d.m.Unescape(row.value)); base64Text.MatchString(text) {
				row.used = true // a bare base64 body continued on the next row
				docs[n-1].encoded += text
				continue
			}
		}
		if doc == nil {
			continue
		}
		row.used = true
		if n := len(docs); n > 0 && continues(docs[n-1], doc) {
			docs[n-1].encoded += doc.encoded
			continue
		}
		docs = append(docs, doc)
	}
	for _, doc := range docs {
		d.file(doc)
	}
}

// continues reports whether doc is the rest of prev, split over OBX rows:
// a LIMS that cannot fit a PDF in one OBX-5 repeats the row (with its ED
// header) with the next part of the data. The rows must share code and
// sub-ID, and doc's data must not start a file of its own: two images of
// a pedigree sent one after the other, each beginning with its PNG
// signature, are two documents, not one. (Only the data's start tells:
// the ED header is repeated on every part, and some LIMSs give only the
// first part a type.)
func continues(prev, doc *document) bool {
	return doc.url == "" && prev.url == "" && prev.row.code == doc.row.code && prev.row.sub == doc.row.sub && !startsFile(doc.encoded)
}

// fileSignatures are the first bytes of the file types labs send: PDF,
// PNG, JPEG, GIF, TIFF (both byte orders), RTF, ZIP (DOCX) and OLE (DOC).
var fileSignatures = [][]byte{[]byte("%PDF-"), []byte("\x89PNG\r\n\x1a\n"), {0xFF, 0xD8, 0xFF}, []byte("GIF87a"), []byte("GIF89a"),
	[]byte("II*\x00"), []byte("MM\x00*"), []byte("{\\rtf"), []byte("PK\x03\x04"), {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}}

// startsFile reports whether base64 data begins with a file's signature.
// A continuation's data is the middle of a file, which a signature starts
// only by a chance of one in millions.
func startsFile(encoded string) bool {
	head, err := base64.StdEncoding.DecodeString(encoded[:min(len(encoded), 16)&^3]) // whole 4-character groups
	if err != nil {
		return false
	}
	for _, sig := range fileSignatures {
		if bytes.HasPrefix(head, sig) {
			return true
		}
	}
	return false
}

var base64Marker = regexp.MustCompile(`(?i)^base64$`)

// documentIn returns the document a row carries, or nil.
func (d *decoder) documentIn(row *obx) *document {
	title := first(row.codeText, row.code)
	own := row.code == rgwAttachment
	if own {
		title = row.codeText
	}
	if row.valueType == "RP" {
		url := d.comp(row.value, 1)
		return &document{row: row, title: title, url: url, contentType: contentTypeOf(d.comp(row.value, 4), url), own: own}
	}
	reps := strings.Split(row.value, string(d.m.Delims.Repetition))
	comps := strings.Split(reps[0], string(d.m.Delims.Component))
	for k, c := range comps {
		enc := strings.ToLower(strings.TrimSpace(c))
		if k+1 >= len(comps) || !(base64Marker.MatchString(enc) || row.valueType == "ED" && (enc == "hex" || enc == "a")) {
			continue
		}
		subtype := ""
		if k > 0 {
			subtype = comps[k-1]
		}
		// A long document may come as repetitions of the ED, each with its
		// part of the data: joined in order.
		var data strings.Builder
		for _, rep := range reps {
			if rc := strings.Split(rep, string(d.m.Delims.Component)); k+1 < len(rc) && strings.EqualFold(strings.TrimSpace(rc[k]), strings.TrimSpace(c)) {
				data.WriteString(d.m.Unescape(rc[k+1]))
			}
		}
		doc := &document{row: row, title: title, contentType: contentTypeOf(d.m.Unescape(subtype), ""), own: own}
		switch enc {
		case "hex":
			raw, err := hex.DecodeString(cleanBase64(data.String()))
			doc.encoded = base64.StdEncoding.EncodeToString(raw)
			if err != nil {
				doc.encoded = "not hex" // filed as a corrupt document, with its warning
			}
		case "a": // text as it is
			doc.encoded = base64.StdEncoding.EncodeToString([]byte(data.String()))
			if doc.contentType == "application/octet-stream" {
				doc.contentType = "text/plain"
			}
		default:
			doc.encoded = cleanBase64(data.String())
		}
		return doc
	}
	for _, c := range comps {
		if strings.HasPrefix(strings.TrimSpace(c), "JVBERi0") {
			return &document{row: row, title: title, contentType: "application/pdf", encoded: cleanBase64(d.m.Unescape(c)), own: own, bare: true}
		}
	}
	if row.valueType == "ED" { // an ED with no base64 marker: its data is component 5
		return &document{row: row, title: title, contentType: contentTypeOf(d.m.Unescape(d.m.Component(comps[0], 1)+d.comp(row.value, 3)), ""),
			encoded: cleanBase64(d.comp(row.value, 5)), own: own}
	}
	return nil
}

func cleanBase64(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// contentTypeOf turns an ED subtype ("PDF", "application/pdf") or a file
// name into a MIME type.
func contentTypeOf(subtype, name string) string {
	s := strings.ToLower(strings.TrimSpace(subtype))
	switch {
	case strings.Contains(s, "/"):
		return s
	case s == "pdf" || strings.HasSuffix(strings.ToLower(name), ".pdf"):
		return "application/pdf"
	case s == "rtf":
		return "application/rtf"
	case s == "jpeg" || s == "jpg":
		return "image/jpeg"
	case s == "png":
		return "image/png"
	case s == "html":
		return "text/html"
	case s == "xml":
		return "application/xml"
	}
	return "application/octet-stream"
}

// file decodes a document and keeps it: the first PDF of a genomic report
// is the report's own PDF; the rest are attachments.
func (d *decoder) file(doc *document) {
	r := d.r
	if doc.url != "" {
		r.Attachments = append(r.Attachments, gateway.Attachment{Title: doc.title, ContentType: doc.contentType, URL: doc.url})
		d.noteRows(doc.row, "")
		return
	}
	data, err := base64.StdEncoding.DecodeString(doc.encoded)
	if err != nil {
		data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(doc.encoded, "="))
	}
	if err != nil || len(data) == 0 {
		d.unmap(doc.row.seg, 5, doc.row.code, clip(doc.encoded, 60), "document data is not valid base64: not filed")
		d.warn("attachments", doc.row.seg, 5, "the document %q in %s is not valid base64 and could not be filed", doc.title, where(d.loc(doc.row.seg, 5, 0)))
		return
	}
	isPDF := strings.HasPrefix(string(data), "%PDF-")
	if isPDF && !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")) {
		// A PDF without its end marker was cut short: kept as an attachment
		// for the record, never shown as the report; the gateway prints its own.
		d.warn("pdf", doc.row.seg, 5, "the PDF in %s is incomplete (no %%%%EOF): kept as an attachment, not used as the report; ask the laboratory to resend it",
			where(d.loc(doc.row.seg, 5, 0)))
		title := doc.title
		if !strings.HasSuffix(title, "(incomplete)") { // already marked by the gateway that wrote this ORU
			title = strings.TrimSpace(title + " (incomplete)")
		}
		r.Attachments = append(r.Attachments, gateway.Attachment{Title: title, ContentType: "application/pdf", Data: data})
		d.noteRows(doc.row, "")
		return
	}
	if isPDF {
		doc.contentType = "application/pdf"
	} else if doc.contentType == "application/pdf" {
		d.unmap(doc.row.seg, 5, doc.row.code, clip(doc.encoded, 60), "declared a PDF, but the data does not start %PDF-: not filed")
		d.warn("attachments", doc.row.seg, 5, "the document %q in %s is declared a PDF but is not one: not filed", doc.title, where(d.loc(doc.row.seg, 5, 0)))
		return
	}
	if isPDF && !doc.own && r.PDF == nil && (r.IsGenomic() || doc.row.code == lnLabReport) {
		r.PDF = &gateway.Attachment{Data: data}
		d.at("pdf", doc.row.seg, 5, 0)
		if doc.title != "" && doc.title != doc.row.code && doc.title != "Genetic report" && doc.title != "Laboratory report" {
			r.PDF.Title = doc.title
		}
	} else {
		r.Attachments = append(r.Attachments, gateway.Attachment{Title: doc.title, ContentType: doc.contentType, Data: data})
	}
	d.noteRows(doc.row, "")
}

// noteRows keeps a used row's NTEs as report notes, labelled with the row.
func (d *decoder) noteRows(row *obx, label string) {
	for _, t := range d.rowNotes(row) {
		d.r.Notes = append(d.r.Notes, first(label, row.codeText, row.code)+": "+t)
	}
}

// results reads every row not yet read as an ordinary result in its OBR's
// group. Consecutive text rows with the same code and sub-ID are one text
// (labs send a paragraph a line at a time). When nothing else is left and
// the text shares one code (a cytogenetics or PDF-only report), the text is
// the report's conclusion rather than a result.
func (d *decoder) results() {
	type pending struct {
		row  *obx
		text string
	}
	var blocks []pending
	var last *obx
	for _, row := range d.rows {
		if row.used {
			last = nil // a row read elsewhere ends a paragraph
			continue
		}
		row.used = true
		if isText(row.valueType) {
			line := d.textBlock(row)
			if n := len(blocks); n > 0 && last != nil && isText(last.valueType) && last.code == row.code && last.sub == row.sub &&
				last.group == row.group && blocks[n-1].row.code == row.code {
				blocks[n-1].text += "\n" + line
				blocks[n-1].row.notes = append(blocks[n-1].row.notes, row.notes...)
				d.use(row.seg, 6, 7, 8, 11, 14)
				last = row
				continue
			}
			blocks = append(blocks, pending{row, line})
		} else {
			blocks = append(blocks, pending{row, ""})
		}
		last = row
	}
	if d.r.Result.Conclusion == "" && len(d.narrative) == 0 && len(blocks) > 0 {
		allText := true
		for _, b := range blocks {
			allText = allText && isText(b.row.valueType) && b.row.code == blocks[0].row.code
		}
		if allText {
			var texts []string
			for _, b := range blocks {
				texts = append(texts, strings.Trim(b.text, "\n"))
				d.noteRows(b.row, "Note")
				d.use(b.row.seg, 6, 7, 8, 11, 14)
			}
			d.r.Result.Conclusion = strings.Join(texts, "\n\n")
			d.at("result.conclusion", blocks[0].row.seg, 5, 0)
			return
		}
	}
	byGroup := map[*group]*gateway.ResultGroup{}
	for _, b := range blocks {
		g := byGroup[b.row.group]
		if g == nil {
			g = d.resultGroup(b.row.group)
			byGroup[b.row.group] = g
		}
		g.Observations = append(g.Observations, d.observation(b.row, b.text))
	}
	for _, g := range d.groups {
		if rg := byGroup[g]; rg != nil {
			d.r.ResultGroups = append(d.r.ResultGroups, *rg)
		} else if g.index > 0 || !d.r.IsGenomic() {
			if notes := d.groupNotes(g); len(notes) > 0 {
				rg := d.resultGroup(g)
				rg.Notes = append(rg.Notes, notes...)
				d.r.ResultGroups = append(d.r.ResultGroups, *rg)
			}
		}
	}
}

func isText(valueType string) bool {
	return valueType == "TX" || valueType == "FT" || valueType == "ST" || valueType == ""
}

// textBlock is a text row's value: every repetition, line breaks kept.
func (d *decoder) textBlock(row *obx) string {
	var lines []string
	for _, rep := range d.m.Repetitions(row.value) {
		lines = append(lines, strings.TrimRight(d.m.Unescape(rep), " "))
	}
	return strings.Join(lines, "\n")
}

// resultGroup starts the group for an OBR: its code, number, status and
// sample time. The first OBR of a genomic report is the report itself: its
// notes are the report's.
func (d *decoder) resultGroup(g *group) *gateway.ResultGroup {
	rg := &gateway.ResultGroup{}
	if g.obr == nil {
		rg.Code = gateway.Coding{Display: "Results"}
		return rg
	}
	rg.Code = gateway.Coding{Code: d.val(g.obr, 4, 1), Display: d.val(g.obr, 4, 2), System: systemURI(d.val(g.obr, 4, 3))}
	if rg.Code.Code == "" && rg.Code.Display == "" {
		rg.Code.Display = "Results"
	}
	if id := d.val(g.obr, 3, 1); id != d.r.ID {
		rg.ID = id
	}
	if s, ok := resultStatus[strings.ToUpper(d.val(g.obr, 25, 0))]; ok && s != d.r.Status {
		rg.Status = s
	}
	rg.Collected = hlTime(d.val(g.obr, 7, 1))
	d.use(g.obr, 1, 2)
	if main := d.groups[0].obr; main != nil && g.obr != main { // said again on each OBR: kept once, from the first
		for _, f := range []int{14, 16, 22, 32} {
			if g.obr.Field(f) == main.Field(f) {
				d.use(g.obr, f)
			}
		}
	}
	if g.index > 0 || !d.r.IsGenomic() {
		rg.Notes = d.groupNotes(g)
	}
	return rg
}

// observation reads one result row.
func (d *decoder) observation(row *obx, text string) gateway.Observation {
	s := row.seg
	o := gateway.Observation{Code: gateway.Coding{Code: row.code, Display: row.codeText, System: systemURI(row.system)}}
	unitCode, unitText := d.val(s, 6, 1), d.val(s, 6, 2)
	o.Unit = first(unitText, unitCode) // the words a reader knows, x10^9/L
	if strings.EqualFold(d.val(s, 6, 3), "UCUM") && unitCode != "" {
		o.UnitCode = unitCode
	}
	o.ReferenceRange = d.val(s, 7, 0)
	o.Interpretation = strings.ToUpper(d.val(s, 8, 1))
	o.Observed = hlTime(d.val(s, 14, 1))
	statusCode := strings.ToUpper(d.val(s, 11, 0))
	if st, ok := resultStatus[statusCode]; ok && st != d.r.Status && statusCode != "X" {
		o.Status = st
	}
	reps := strings.Split(row.value, string(d.m.Delims.Repetition))
	value := reps[0]
	switch row.valueType {
	case "NM":
		o.ValueType, o.Value = gateway.ValueQuantity, d.comp(value, 1)
		if m := comparatorValue.FindStringSubmatch(o.Value); m != nil {
			o.Comparator, o.Value = m[1], m[2]
		}
		if n, ok := canonicalDecimal(o.Value); ok {
			o.Value = n
		} else {
			o.ValueType = gateway.ValueText
		}
	case "SN":
		o.ValueType, o.Comparator, o.Value = gateway.ValueQuantity, d.comp(value, 1), d.comp(value, 2)
		switch sep := d.comp(value, 3); sep {
		case ":", "/":
			o.ValueType, o.Value = gateway.ValueRatio, o.Value+":"+d.comp(value, 4)
		case "-":
			o.ValueType, o.Value = gateway.ValueRange, o.Value+"-"+d.comp(value, 4)
		case "":
		default:
			o.ValueType, o.Comparator, o.Value = gateway.ValueText, "", strings.TrimSpace(d.m.Unescape(strings.ReplaceAll(value, string(d.m.Delims.Component), " ")))
		}
		if o.Comparator == "=" {
			o.Comparator = ""
		}
	case "CE", "CWE", "CNE", "CF", "CV", "IS", "ID":
		c := d.coding(value)
		o.ValueType, o.Coded = gateway.ValueCoded, &c
		for _, rep := range reps[1:] { // further answers ("POS^Detected~REF^Referred for confirmation")
			if more := d.coding(rep); more.Code != "" || more.Display != "" {
				o.Notes = append(o.Notes, "Also: "+strings.TrimSpace(more.Code+" "+more.Display))
			}
		}
		reps = reps[:1]
	case "DT", "TS", "DTM":
		o.ValueType, o.Value = gateway.ValueDateTime, hlTime(d.comp(value, 1))
	case "NR":
		o.ValueType, o.Value = gateway.ValueRange, d.comp(value, 1)+"-"+d.comp(value, 2)
	default:
		o.ValueType, o.Value = gateway.ValueText, text
		if text == "" {
			o.Value = strings.TrimSpace(d.m.Unescape(value))
		}
	}
	if statusCode == "X" || notPerformed(o) {
		o.AbsentReason = "not-performed"
	}
	if o.ValueType == gateway.ValueText && o.Value == "" && o.AbsentReason == "" {
		o.AbsentReason = "unknown"
	}
	if len(reps) > 1 && !isText(row.valueType) {
		d.unmap(s, 5, row.code, strings.Join(reps[1:], "~"), "further repetitions of a "+row.valueType+" value are not mapped")
	}
	o.Notes = append(o.Notes, d.rowNotes(row)...)
	return o
}

// canonicalDecimal writes a number as FHIR decimals are written, keeping its
// digits: ".5" is 0.5, "+3.0" is 3.0, "6.00" stays 6.00.
func canonicalDecimal(s string) (string, bool) {
	m := decimal.FindStringSubmatch(s)
	if m == nil || m[2] == "" && m[3] == "" {
		return "", false
	}
	sign, whole, frac := m[1], m[2], m[3]
	if sign == "+" {
		sign = ""
	}
	if whole == "" {
		whole = "0"
	}
	return sign + whole + frac, true
}

var (
	comparatorValue = regexp.MustCompile(`^(<=|>=|<|>)\s*([-+]?(\d+(\.\d+)?|\.\d+))$`)
	decimal         = regexp.MustCompile(`^([-+]?)(\d*)(\.\d+)?$`)
	notDone         = regexp.MustCompile(`(?i)\b(not (assayed|done|performed|tested|available)|insufficient|unsuitable|cancelled)\b`)
)

// notPerformed recognises a result the lab could not produce ("NA^Not
// assayed"). It goes by the words: "ND" is "not done" in one lab and "not
// detected" (a result) in another, so a code alone says so only for NA.
func notPerformed(o gateway.Observation) bool {
	if o.Coded != nil {
		if o.Coded.Display != "" {
			return notDone.MatchString(o.Coded.Display)
		}
		return strings.EqualFold(o.Coded.Code, "NA")
	}
	return o.ValueType == gateway.ValueText && notDone.MatchString(o.Value) && len(o.Value) < 40
}

// finish completes the report: the conclusion from narrative text, the
// report's notes, and whether it is only a document and text.
func (d *decoder) finish() {
	r := d.r
	if text := strings.TrimSpace(strings.Join(d.narrative, "\n\n")); text != "" {
		switch {
		case r.Result.Conclusion == "":
			r.Result.Conclusion = text
		case r.Result.Interpretation == "":
			r.Result.Interpretation = text
		default:
			r.Notes = append(r.Notes, text)
		}
	}
	if r.IsGenomic() && len(d.groups) > 0 {
		r.Notes = append(r.Notes, d.groupNotes(d.groups[0])...)
	}
	for _, g := range d.groups {
		for _, n := range d.groupNotes(g) { // groups that became nothing still keep their notes
			r.Notes = append(r.Notes, first(d.val(g.obr, 4, 2), d.val(g.obr, 4, 1), "Note")+": "+n)
		}
	}
	for _, row := range d.rows {
		if row.used {
			d.noteRows(row, "")
		}
	}
	if r.IsGenomic() && len(r.Variants) == 0 && r.Result.Outcome == "" {
		r.Unstructured = true
		d.at("pdf", d.m.First("MSH"), 0, 0)
	}
}

// leftovers lists what the message holds that nothing read: whole OBX rows,
// fields of known segments, and segments the gateway does not read.
func (d *decoder) leftovers() {
	for _, row := range d.rows {
		if !row.used {
			d.unmap(row.seg, 3, row.code, row.codeText+": "+d.m.Unescape(row.value), "observation not mapped")
			d.use(row.seg, fieldsOf(row.seg)...)
		}
	}
	known := map[string]bool{"MSH": true, "PID": true, "PD1": true, "PV1": true, "PV2": true, "ORC": true, "OBR": true,
		"OBX": true, "NTE": true, "SPM": true, "TQ1": true, "TQ2": true, "CTD": true, "FT1": true, "CTI": true}
	for _, s := range d.m.Segments {
		if !known[s.Name()] {
			d.unmap(s, 0, "", strings.Join(s.Fields, string(d.m.Delims.Field)), "segment "+s.Name()+" is not read")
			continue
		}
		if s.Name() == "NTE" && !d.claimed[s] && !d.used[s][3] {
			d.noteSegment(s, "")
			continue
		}
		for _, f := range fieldsOf(s) {
			if d.used[s][f] {
				continue
			}
			text := d.m.Unescape(s.Field(f))
			if strings.Trim(text, "^~&\\ ") == "" {
				continue
			}
			d.unmap(s, f, "", text, fmt.Sprintf("%s-%d is not mapped", s.Name(), f))
		}
	}
}

// fieldsOf lists the numbers of a segment's non-empty fields.
func fieldsOf(s *hl7.Segment) []int {
	n := len(s.Fields) - 1
	if s.Name() == "MSH" {
		n = len(s.Fields) // MSH-1 is the separator, so MSH-n is Fields[n-1]
	}
	var out []int
	for f := 1; f <= n; f++ {
		if s.Field(f) != "" {
			out = append(out, f)
		}
	}
	return out
}
