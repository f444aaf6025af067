package fhirr4

import (
	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/communication_request_go_proto"
)

// copyToEntries adds a CommunicationRequest per copy-to recipient: send
// this report to that organisation too. R4 has no element for result
// copies; HL7 Australia deprecated its extension in favour of this
// resource, and it is what an EPR can read to know who else has the result.
func (b *builder) copyToEntries() {
	for _, o := range b.r.CopyTo {
		id := identifier{b.m.system("copy-to"), b.r.ID + "-" + o.ODSCode}
		recipient := &d4pb.Reference{Identifier: ident(systemODS, o.ODSCode)}
		if o.Name != "" {
			recipient.Display = str(o.Name)
		}
		cr := &crpb.CommunicationRequest{
			Identifier: []*d4pb.Identifier{ident(id.system, id.value)},
			Status:     &crpb.CommunicationRequest_StatusCode{Value: c4pb.RequestStatusCode_ACTIVE},
			Category:   []*d4pb.CodeableConcept{text("Result copy")},
			Subject:    ref(b.patient, ""),
			About:      []*d4pb.Reference{ref(b.report, "")},
			BasedOn:    []*d4pb.Reference{ref(b.serviceRequest, "")},
			Recipient:  []*d4pb.Reference{recipient},
			Sender:     ref(b.lab, b.r.PerformingLab.Name),
			Payload: []*crpb.CommunicationRequest_Payload{{Content: &crpb.CommunicationRequest_Payload_ContentX{
				Choice: &crpb.CommunicationRequest_Payload_ContentX_Reference{Reference: ref(b.report, "")}}}},
		}
		b.conditionalUpdate("copy-to-"+o.ODSCode, "CommunicationRequest", id,
			&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_CommunicationRequest{CommunicationRequest: cr}})
	}
}
