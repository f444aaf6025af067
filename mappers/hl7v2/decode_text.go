package hl7v2

import (
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// hlTime turns an HL7 TS/DTM into RFC 3339 (a bare date stays a date);
// local times without a zone are read as UK time. A value it cannot read
// is returned as sent, for validation to report.
func hlTime(ts string) string {
	ts = strings.TrimSpace(ts)
	digits, zone := ts, ""
	if i := strings.IndexAny(ts, "+-"); i > 0 {
		digits, zone = ts[:i], ts[i:]
	}
	if i := strings.IndexByte(digits, '.'); i > 0 {
		digits = digits[:i]
	}
	switch {
	case len(digits) == 8:
		return hlDate(digits)
	case len(digits) < 10 || len(digits) > 14:
		return ts
	}
	for len(digits) < 14 {
		digits += "0"
	}
	var t time.Time
	var err error
	if zone != "" {
		t, err = time.Parse("20060102150405-0700", digits+zone)
	} else {
		t, err = time.ParseInLocation("20060102150405", digits, gateway.London) // UK senders send local times without a zone
	}
	if err != nil {
		return ts
	}
	return t.Format(time.RFC3339)
}

// hlDate turns YYYYMMDD (or a longer TS) into YYYY-MM-DD.
func hlDate(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case len(s) >= 8:
		return s[:4] + "-" + s[4:6] + "-" + s[6:8]
	case len(s) == 6: // a month: YYYYMM
		return s[:4] + "-" + s[4:6]
	}
	return s // a year, or as written
}
