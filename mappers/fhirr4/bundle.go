// Package fhirr4 maps a gateway.Report to one FHIR R4 transaction Bundle
// following the HL7 Genomics Reporting IG STU3 (3.0.0) and UK Core
// identifiers, using google/fhir protos, written by this package's FHIR
// JSON writer (jsonformat's output, faster; jsonformat where it cannot).
//
// Every resource carries a business identifier and every entry is a
// conditional create or conditional update on it, so sending the same report
// twice creates nothing new and a later version updates the same resources.
package fhirr4

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	sppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/specimen_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// DefaultIdentifierBase is where the gateway's own identifier systems live
// (report, variant, specimen ...). Each deployment should set its own.
const DefaultIdentifierBase = "https://fhir.results-gateway.nhs.uk/Id"

// Mapper turns reports into Bundles. The zero value is not usable: call New.
type Mapper struct {
	identifierBase string
	marshaller     *jsonformat.Marshaller
}

// New returns a Mapper whose own identifier systems start with identifierBase
// (DefaultIdentifierBase when empty).
func New(identifierBase string) (*Mapper, error) {
	if identifierBase == "" {
		identifierBase = DefaultIdentifierBase
	}
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir marshaller: %w", err)
	}
	return &Mapper{identifierBase: identifierBase, marshaller: m}, nil
}

// Bundle builds the transaction Bundle for r; pdf is the report's
// presentedForm. r must have passed gateway.Validate.
func (m *Mapper) Bundle(r *gateway.Report, pdf []byte) *r4pb.Bundle {
	b := &builder{m: m, r: r, pdf: pdf, bundle: &r4pb.Bundle{
		Type: &r4pb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_TRANSACTION},
	}}
	b.build()
	return b.bundle
}

// EncodeBundle maps r and marshals the Bundle to FHIR JSON once; callers
// keep the bytes. It also lists the resources as "Type/id" (the id is the
// entry's urn:uuid), which the pull API indexes.
func (m *Mapper) EncodeBundle(r *gateway.Report, pdf []byte) ([]byte, []string, error) {
	e, err := m.Encode(r, pdf)
	return e.JSON, e.Resources, err
}

// Encode is EncodeBundle that also says where the PDF's base64 is in the
// JSON (gateway.EncodedBundle), which intake uses.
func (m *Mapper) Encode(r *gateway.Report, pdf []byte) (gateway.EncodedBundle, error) {
	b := m.Bundle(r, pdf)
	var encoded []byte // the lab's own base64 of its PDF, if it is the presentedForm
	if r.PDF.EncodedIsData() && len(r.PDF.Data) == len(pdf) && &r.PDF.Data[0] == &pdf[0] {
		encoded = r.PDF.Encoded
	}
	out, at, err := marshalOrFallbackLocating(b, pdf, encoded, m.marshaller)
	if err != nil {
		return gateway.EncodedBundle{}, fmt.Errorf("marshal bundle for report %s: %w", r.ID, err)
	}
	refs := make([]string, 0, len(b.Entry))
	for _, e := range b.Entry {
		typ, _, _ := strings.Cut(e.GetRequest().GetUrl().GetValue(), "?")
		typ, _, _ = strings.Cut(typ, "/")
		refs = append(refs, typ+"/"+strings.TrimPrefix(e.GetFullUrl().GetValue(), "urn:uuid:"))
	}
	return gateway.EncodedBundle{JSON: out, Resources: refs, PDFAt: at}, nil
}

// system returns one of the gateway's own identifier systems.
func (m *Mapper) system(kind string) string { return m.identifierBase + "/" + kind }

// builder holds one mapping's state: the fullUrls assigned so far.
type builder struct {
	m       *Mapper
	r       *gateway.Report
	pdf     []byte
	pdfHash []byte // its SHA-1, once worked out
	bundle  *r4pb.Bundle

	patient, lab, trust, serviceRequest, study, analysis, report string
	specimens, roles, variants, implications, relatives, panels  []string
	requester                                                    string
	binary                                                       string           // the PDF's Binary entry (fullUrl)
	seen                                                         map[string]bool  // fullUrls of conditional creates already added
	specimenResources                                            []*sppb.Specimen // to point at the ServiceRequest once it exists
}

func (b *builder) build() {
	b.organisations()
	b.patients()
	b.practitioners()
	b.specimenEntries()
	b.serviceRequestEntry()
	b.variantEntries()
	b.resultEntries()
	b.familyEntries()
	if b.r.IsGenomic() {
		b.studyEntries()
	}
	b.binaryEntry()
	b.reportEntry()
	b.copyToEntries()
	b.documentEntry()
	b.provenanceEntry()
}

// conditionalCreate adds an entry the server creates only if no resource has
// the identifier yet (master data such as patients and organisations belongs
// to the EPR). Its fullUrl comes from the identifier alone, so the same
// patient or organisation has the same id in every report.
func (b *builder) conditionalCreate(key, resourceType string, id identifier, res *r4pb.ContainedResource) string {
	full := uuidFor(resourceType + "|" + id.system + "|" + id.value)
	if b.seen[full] {
		return full // e.g. the requester is also an authoriser: one entry
	}
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	b.seen[full] = true
	b.bundle.Entry = append(b.bundle.Entry, &r4pb.Bundle_Entry{
		FullUrl:  uri(full),
		Resource: res,
		Request: &r4pb.Bundle_Entry_Request{
			Method:      &r4pb.Bundle_Entry_Request_MethodCode{Value: c4pb.HTTPVerbCode_POST},
			Url:         uri(resourceType),
			IfNoneExist: str("identifier=" + id.query()),
		},
	})
	return full
}

// conditionalUpdate adds an entry that creates the resource or updates the
// one with the same identifier: how a new report version replaces the old.
func (b *builder) conditionalUpdate(key, resourceType string, id identifier, res *r4pb.ContainedResource) string {
	full := uuidFor(b.r.ID + "|" + key)
	b.bundle.Entry = append(b.bundle.Entry, &r4pb.Bundle_Entry{
		FullUrl:  uri(full),
		Resource: res,
		Request: &r4pb.Bundle_Entry_Request{
			Method: &r4pb.Bundle_Entry_Request_MethodCode{Value: c4pb.HTTPVerbCode_PUT},
			Url:    uri(resourceType + "?identifier=" + id.query()),
		},
	})
	return full
}

type identifier struct{ system, value string }

// query is the identifier as a search parameter value, system|value, with
// the value escaped (a lab's staff "number" may be a name with spaces).
func (id identifier) query() string {
	return id.system + "|" + strings.ReplaceAll(url.QueryEscape(id.value), "+", "%20")
}
