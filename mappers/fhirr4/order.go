package fhirr4

import (
	"strconv"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	srpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"
	sppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/specimen_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

func itoa(i int) string { return strconv.Itoa(i) }

// testCode codes the ordered test: an R- or M-code from the National
// Genomic Test Directory, or a DGTS GT/TP code (NHS England's directory from
// 2026), and the lab's own code for it; nil when the report names no test.
func (b *builder) testCode() *d4pb.CodeableConcept {
	t := b.r.Test
	cc := &d4pb.CodeableConcept{Text: optStr(t.Name)}
	if t.Code != "" {
		system := systemTestDirectory
		if gateway.InDigitalService(t.Code) {
			system = systemDGTS
		}
		display := t.DirectoryName // the directory's official name, when the gateway knows it
		if display == "" {
			display = t.Name
		}
		c := coding(system, t.Code, display)
		if t.DirectoryVersion != "" {
			c.Version = str(t.DirectoryVersion)
		}
		cc.Coding = append(cc.Coding, c)
	}
	if t.LocalCode != nil {
		if c := b.codingOf(*t.LocalCode); c != nil {
			cc.Coding = append(cc.Coding, c)
		}
		if cc.Text == nil {
			cc.Text = optStr(t.LocalCode.Display)
		}
	}
	if cc.Text == nil && cc.Coding == nil {
		return nil
	}
	return cc
}

func (b *builder) specimenEntries() {
	for i, s := range b.r.Specimens {
		id := identifier{b.m.system("specimen"), b.r.PerformingLab.ODSCode + "-" + s.ID}
		sp := &sppb.Specimen{
			Identifier: []*d4pb.Identifier{ident(id.system, id.value)},
			// The lab's specimen number is its accession number too: NHS
			// England's profile asks for one.
			AccessionIdentifier: ident(id.system, id.value),
			Status:              &sppb.Specimen_StatusCode{Value: c4pb.SpecimenStatusCode_AVAILABLE},
			Subject:             ref(b.patient, ""),
			ReceivedTime:        dateTime(s.Received),
		}
		if s.Type != "" {
			sp.Type = text(s.Type)
		}
		if collected := dateTime(s.Collected); collected != nil {
			sp.Collection = &sppb.Specimen_Collection{Collected: &sppb.Specimen_Collection_CollectedX{
				Choice: &sppb.Specimen_Collection_CollectedX_DateTime{DateTime: collected},
			}}
		}
		if b.r.IsGenomic() && sp.Type != nil && sp.Collection != nil {
			// Also status, subject, accession and request (set with the
			// ServiceRequest): all NHS England's profile requires.
			sp.Meta = meta(profileNHSESpecimen)
		}
		b.specimenResources = append(b.specimenResources, sp)
		b.specimens = append(b.specimens, b.conditionalUpdate("specimen-"+itoa(i), "Specimen", id,
			&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Specimen{Specimen: sp}}))
	}
}

func (b *builder) serviceRequestEntry() {
	number := b.r.OrderNumber
	if number == "" {
		number = b.r.ID
	}
	id := identifier{b.m.system("order"), b.r.OrderingTrust.ODSCode + "-" + number}
	ids := []*d4pb.Identifier{ident(id.system, id.value)}
	if b.r.OrderNumber != "" && !b.r.OrderNumberLocal { // the Genomic Medicine Service's order number, as NHS England names it
		ids = append(ids, ident(systemGMSOrder, b.r.OrderNumber))
	}
	sr := &srpb.ServiceRequest{
		Identifier: ids,
		Status:     &srpb.ServiceRequest_StatusCode{Value: c4pb.RequestStatusCode_COMPLETED},
		Intent:     &srpb.ServiceRequest_IntentCode{Value: c4pb.RequestIntentCode_ORDER},
		Category:   []*d4pb.CodeableConcept{concept(systemSNOMED, "108252007", "Laboratory procedure")},
		Code:       b.testCode(),
		Subject:    ref(b.patient, ""),
		Performer:  []*d4pb.Reference{ref(b.lab, b.r.PerformingLab.Name)},
	}
	if p := b.r.Previous; p != nil && (p.OrderNumber != "" || p.OrderingTrust != "") {
		// A re-interpretation or re-analysis is a new request based on the
		// earlier one, as NHS England's R442 and R387 examples link them: by
		// its order, which the receiver holds already.
		prev := &d4pb.Reference{Type: uri("ServiceRequest"), Display: str(relationWords[p.Relation] + " of report " + p.ID)}
		switch {
		case p.OrderNumber != "" && !p.OrderNumberLocal:
			prev.Identifier = ident(systemGMSOrder, p.OrderNumber)
		case p.OrderNumber != "":
			prev.Identifier = ident(b.m.system("order"), p.OrderingTrust+"-"+p.OrderNumber)
		default:
			prev.Identifier = ident(b.m.system("order"), p.OrderingTrust+"-"+p.ID)
		}
		sr.BasedOn = []*d4pb.Reference{prev}
	}
	if t := b.r.Test; t.Reason != "" {
		sr.ReasonCode = append(sr.ReasonCode, text(t.Reason))
	}
	for _, c := range b.r.Test.Conditions {
		if cc := b.conceptOf(c); cc != nil {
			sr.ReasonCode = append(sr.ReasonCode, cc)
		}
	}
	for _, s := range b.specimens {
		sr.Specimen = append(sr.Specimen, ref(s, ""))
	}
	if b.requester != "" {
		sr.Requester = ref(b.requester, b.r.RequestingClinician.Name)
	} else if c := b.r.RequestingClinician; c != nil {
		sr.Requester = &d4pb.Reference{Display: str(c.Name)}
	}
	b.serviceRequest = b.conditionalUpdate("service-request", "ServiceRequest", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_ServiceRequest{ServiceRequest: sr}})
	for _, sp := range b.specimenResources {
		sp.Request = []*d4pb.Reference{ref(b.serviceRequest, "")}
	}
}

// orderReference points at the ServiceRequest, and carries the order
// number as NHS England's GMSOrder identifier, so a receiver that has the
// order already (GOMS, an order-comms EPR) can match it without the
// Bundle; an EPR's own order number goes as the gateway's order identifier.
func (b *builder) orderReference() *d4pb.Reference {
	r := ref(b.serviceRequest, "")
	switch {
	case b.r.OrderNumber != "" && !b.r.OrderNumberLocal:
		r.Identifier = ident(systemGMSOrder, b.r.OrderNumber)
	case b.r.OrderNumber != "":
		r.Identifier = ident(b.m.system("order"), b.r.OrderingTrust.ODSCode+"-"+b.r.OrderNumber)
	}
	return r
}
