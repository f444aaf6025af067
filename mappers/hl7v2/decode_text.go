package hl7v2

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// pdfAndNarrative finds the PDF (by its components and the %PDF signature,
// whatever OBX-2 says) and reads free text (TX/FT/ST rows, NTE) as narrative.
func (d *decoder) pdfAndNarrative() {
	m, r := d.m, d.r
	for _, row := range d.rows {
		if row.used {
			continue
		}
		if pdf := findPDF(m, row.value); pdf != nil {
			row.used = true
			if r.PDF == nil {
				r.PDF = &gateway.Attachment{Data: pdf}
			}
			continue
		}
		if row.valueType == "TX" || row.valueType == "FT" || (row.valueType == "ST" && row.sub == "") {
			for _, rep := range m.Repetitions(row.value) {
				if t := strings.TrimSpace(m.Unescape(rep)); t != "" {
					d.narrative = append(d.narrative, t)
				}
			}
			row.used = true
		}
	}
	afterOBR := false
	for _, s := range m.Segments {
		switch s.Name() {
		case "OBR":
			afterOBR = true
		case "OBX":
			afterOBR = false
		case "NTE":
			if afterOBR {
				if t := strings.TrimSpace(m.Value(s, 3, 0)); t != "" {
					d.narrative = append(d.narrative, t)
				}
			}
		}
	}
	if r.Result.Conclusion == "" {
		r.Result.Conclusion = strings.Join(d.narrative, "\n")
		d.at("result.conclusion", "OBX", 5, 0)
	} else if len(d.narrative) > 0 && r.Result.Interpretation == "" {
		r.Result.Interpretation = strings.Join(d.narrative, "\n")
	}
	if len(r.Variants) == 0 && r.Result.Outcome == "" {
		r.Unstructured = true
		d.at("pdf", "OBX", 5, 0)
	}
}

// findPDF looks for base64 PDF data in any component of an OBX-5.
func findPDF(m *hl7.Message, value string) []byte {
	if !strings.Contains(value, "JVBERi0") {
		return nil
	}
	for _, c := range strings.Split(value, string(m.Delims.Component)) {
		if strings.HasPrefix(c, "JVBERi0") {
			data, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' || r == ' ' {
					return -1
				}
				return r
			}, m.Unescape(c)))
			if err == nil && strings.HasPrefix(string(data), "%PDF") {
				return data
			}
		}
	}
	return nil
}

// hlTime turns an HL7 TS into RFC 3339 (a bare date stays a date); local
// times without a zone are read as UK time.
func hlTime(ts string) string {
	ts = strings.TrimSpace(ts)
	if len(ts) == 8 {
		return hlDate(ts)
	}
	if len(ts) < 12 {
		return ts
	}
	digits, zone := ts, ""
	if i := strings.IndexAny(ts, "+-"); i > 0 {
		digits, zone = ts[:i], ts[i:]
	}
	if i := strings.IndexByte(digits, '.'); i > 0 {
		digits = digits[:i]
	}
	for len(digits) < 14 {
		digits += "0"
	}
	var t time.Time
	var err error
	if zone != "" {
		t, err = time.Parse("20060102150405-0700", digits+zone)
	} else {
		t, err = time.ParseInLocation("20060102150405", digits, london)
	}
	if err != nil {
		return ts
	}
	return t.Format(time.RFC3339)
}

func hlDate(s string) string {
	if len(s) < 8 {
		return s
	}
	return s[:4] + "-" + s[4:6] + "-" + s[6:8]
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
