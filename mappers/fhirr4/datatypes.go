package fhirr4

import (
	"crypto/sha1"
	"fmt"
	"time"

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

// instant converts an RFC 3339 timestamp that validation has already accepted.
func instant(s string) *d4pb.Instant {
	t, _ := time.Parse(time.RFC3339, s)
	return &d4pb.Instant{ValueUs: t.UnixMicro(), Timezone: zone(t), Precision: d4pb.Instant_SECOND}
}

// dateTime converts an RFC 3339 timestamp or a bare date.
func dateTime(s string) *d4pb.DateTime {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &d4pb.DateTime{ValueUs: t.UnixMicro(), Timezone: zone(t), Precision: d4pb.DateTime_SECOND}
	}
	t, _ := time.Parse(time.DateOnly, s)
	return &d4pb.DateTime{ValueUs: t.UnixMicro(), Timezone: "UTC", Precision: d4pb.DateTime_DAY}
}

func date(s string) *d4pb.Date {
	t, _ := time.Parse(time.DateOnly, s)
	return &d4pb.Date{ValueUs: t.UnixMicro(), Timezone: "UTC", Precision: d4pb.Date_DAY}
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
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
