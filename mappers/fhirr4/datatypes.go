package fhirr4

import (
	"crypto/sha1"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// Small constructors that keep the resource builders readable.

func str(s string) *d4pb.String { return &d4pb.String{Value: s} }
func uri(s string) *d4pb.Uri    { return &d4pb.Uri{Value: s} }
func code(s string) *d4pb.Code  { return &d4pb.Code{Value: s} }

func coding(system, c, display string) *d4pb.Coding {
	cd := &d4pb.Coding{System: uri(system), Code: code(c)}
	if display != "" {
		cd.Display = str(display)
	}
	return cd
}

func concept(system, c, display string) *d4pb.CodeableConcept {
	return &d4pb.CodeableConcept{Coding: []*d4pb.Coding{coding(system, c, display)}}
}

func text(s string) *d4pb.CodeableConcept { return &d4pb.CodeableConcept{Text: str(s)} }

func loinc(c, display string) *d4pb.CodeableConcept { return concept(systemLOINC, c, display) }

func ident(system, value string) *d4pb.Identifier {
	return &d4pb.Identifier{System: uri(system), Value: str(value)}
}

// ref is a reference to another entry of the Bundle by its fullUrl.
func ref(fullURL, display string) *d4pb.Reference {
	r := &d4pb.Reference{Reference: &d4pb.Reference_Uri{Uri: str(fullURL)}}
	if display != "" {
		r.Display = str(display)
	}
	return r
}

func extension(url string, value *d4pb.Extension_ValueX) *d4pb.Extension {
	return &d4pb.Extension{Url: uri(url), Value: value}
}

func extRef(r *d4pb.Reference) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Reference{Reference: r}}
}

func extConcept(c *d4pb.CodeableConcept) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_CodeableConcept{CodeableConcept: c}}
}

func extString(s string) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_StringValue{StringValue: str(s)}}
}

func meta(profiles ...string) *d4pb.Meta {
	m := &d4pb.Meta{}
	for _, p := range profiles {
		m.Profile = append(m.Profile, &d4pb.Canonical{Value: p})
	}
	return m
}

// instant converts an RFC 3339 timestamp; nil when there is none (a report
// read leniently may lack one: absent data is left out, never invented).
func instant(s string) *d4pb.Instant {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &d4pb.Instant{ValueUs: t.UnixMicro(), Timezone: zone(t), Precision: d4pb.Instant_SECOND}
}

// dateTime converts an RFC 3339 timestamp or a bare date; nil for neither.
func dateTime(s string) *d4pb.DateTime {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &d4pb.DateTime{ValueUs: t.UnixMicro(), Timezone: zone(t), Precision: d4pb.DateTime_SECOND}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil
	}
	return &d4pb.DateTime{ValueUs: t.UnixMicro(), Timezone: "UTC", Precision: d4pb.DateTime_DAY}
}

// date is a FHIR date: a day, or as HL7 v2 and FHIR allow, a month or a
// year alone (a birth date known only so far).
func date(s string) *d4pb.Date {
	for _, p := range []struct {
		layout    string
		precision d4pb.Date_Precision
	}{{time.DateOnly, d4pb.Date_DAY}, {"2006-01", d4pb.Date_MONTH}, {"2006", d4pb.Date_YEAR}} {
		if t, err := time.Parse(p.layout, s); err == nil {
			return &d4pb.Date{ValueUs: t.UnixMicro(), Timezone: "UTC", Precision: p.precision}
		}
	}
	return nil
}

// optStr is a FHIR string, or nil for an empty one (FHIR has no empty strings).
func optStr(s string) *d4pb.String {
	if s == "" {
		return nil
	}
	return str(s)
}

// codingOf turns a report coding into FHIR: a URI system stays; a sender's
// system name (or none) becomes one of the gateway's local code systems.
func (b *builder) codingOf(c gateway.Coding) *d4pb.Coding {
	system := c.System
	if !strings.Contains(system, ":") {
		system = b.m.system("local-code/" + b.r.PerformingLab.ODSCode)
		if c.System != "" {
			system += "/" + url.PathEscape(c.System)
		}
	}
	if c.Code == "" {
		return nil
	}
	return coding(system, c.Code, c.Display)
}

// conceptOf is a CodeableConcept from a report coding, with its text.
func (b *builder) conceptOf(c gateway.Coding) *d4pb.CodeableConcept {
	cc := &d4pb.CodeableConcept{Text: optStr(c.Display)}
	if cd := b.codingOf(c); cd != nil {
		cc.Coding = []*d4pb.Coding{cd}
	}
	if cc.Text == nil && cc.Coding == nil {
		return nil
	}
	return cc
}

func zone(t time.Time) string {
	if _, off := t.Zone(); off == 0 {
		return "Z"
	}
	return t.Format("-07:00")
}

// uuidFor derives a stable urn:uuid (name-based, RFC 4122 version 5 layout)
// from a key, so the same report always yields the same Bundle bytes.
func uuidFor(key string) string {
	h := sha1.Sum([]byte("results-gateway:" + key))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	// As fmt's "%x-%x-%x-%x-%x" of the five groups would write it, without fmt.
	var b [45]byte // "urn:uuid:" + 36
	n := copy(b[:], "urn:uuid:")
	for i, group := range [][]byte{h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]} {
		if i > 0 {
			b[n] = '-'
			n++
		}
		n += hex.Encode(b[n:], group)
	}
	return string(b[:n])
}
