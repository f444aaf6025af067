package fhirr4

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	binpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/binary_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	docpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/document_reference_go_proto"
	provpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/provenance_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// binaryEntry puts the PDF in the Bundle once, as a Binary, which the
// DiagnosticReport's presentedForm and the DocumentReference's content
// both point at by url: an EPR that reads only the report and one that
// files documents both reach it, and the base64 travels once. A server
// rewrites the entry's urn:uuid in those urls to the Binary's id when it
// processes the transaction (the third-party FHIR server used in the tests
// does). R4 Binary has no identifier, so its id is derived from the lab,
// report and version and the entry is an update by id: still idempotent.
func (b *builder) binaryEntry() {
	r := b.r
	sum := sha256.Sum256([]byte(r.PerformingLab.ODSCode + "|" + r.ID + "|" + itoa(r.Version) + "|pdf"))
	id := "rg-" + hex.EncodeToString(sum[:20])
	b.binary = uuidFor(r.ID + "|binary|" + itoa(r.Version))
	bin := &binpb.Binary{
		Id:          &d4pb.Id{Value: id},
		ContentType: &binpb.Binary_ContentTypeCode{Value: "application/pdf"},
		Data:        &d4pb.Base64Binary{Value: b.pdf},
	}
	b.bundle.Entry = append(b.bundle.Entry, &r4pb.Bundle_Entry{
		FullUrl:  uri(b.binary),
		Resource: &r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Binary{Binary: bin}},
		Request: &r4pb.Bundle_Entry_Request{
			Method: &r4pb.Bundle_Entry_Request_MethodCode{Value: c4pb.HTTPVerbCode_PUT},
			Url:    uri("Binary/" + id),
		},
	})
}

// documentEntry indexes the PDF as a DocumentReference: many EPRs file
// documents rather than DiagnosticReports.
func (b *builder) documentEntry() {
	r := b.r
	id := identifier{b.m.system("document"), r.ID}
	status, docStatus := c4pb.DocumentReferenceStatusCode_CURRENT, c4pb.CompositionStatusCode_FINAL
	switch r.Status {
	case gateway.StatusPreliminary:
		docStatus = c4pb.CompositionStatusCode_PRELIMINARY
	case gateway.StatusAmended, gateway.StatusCorrected:
		docStatus = c4pb.CompositionStatusCode_AMENDED
	case gateway.StatusEnteredInError:
		status, docStatus = c4pb.DocumentReferenceStatusCode_ENTERED_IN_ERROR, c4pb.CompositionStatusCode_ENTERED_IN_ERROR
	}
	doc := &docpb.DocumentReference{
		MasterIdentifier: ident(b.m.system("document-version"), r.ID+"-v"+itoa(r.Version)),
		Identifier:       []*d4pb.Identifier{ident(id.system, id.value)},
		Status:           &docpb.DocumentReference_StatusCode{Value: status},
		DocStatus:        &docpb.DocumentReference_DocStatusCode{Value: docStatus},
		Type:             concept(systemSNOMED, gateway.CodeGeneticReport, "Genetic report"),
		Subject:          ref(b.patient, ""),
		Date:             instant(r.Issued),
		Author:           []*d4pb.Reference{ref(b.lab, r.PerformingLab.Name)},
		Custodian:        ref(b.lab, r.PerformingLab.Name),
		Description:      optStr(description(r)),
		Content:          []*docpb.DocumentReference_Content{{Attachment: b.pdfAttachment()}},
		Context:          &docpb.DocumentReference_Context{Related: []*d4pb.Reference{ref(b.report, "")}},
	}
	if !r.IsGenomic() {
		doc.Type = concept(systemSNOMED, gateway.CodeLabReport, "Laboratory report")
	}
	if len(b.roles) > 0 {
		doc.Authenticator = ref(b.roles[0], r.Authorisers[0].Name)
	}
	b.conditionalUpdate("document-reference", "DocumentReference", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_DocumentReference{DocumentReference: doc}})
}

// description is a one-line summary: the test and the conclusion.
func description(r *gateway.Report) string {
	test := strings.TrimSpace(r.Test.Code + " " + r.Test.Name)
	if test == "" {
		test = groupNames(r)
	}
	switch {
	case test == "":
		return r.Result.Conclusion
	case r.Result.Conclusion == "":
		return test
	}
	return test + ": " + r.Result.Conclusion
}

// provenanceEntry records who issued this version and, for an amendment, that
// it revises the earlier one (NHS England requires Provenance on updates).
// R4 Provenance has no identifier element, so its logical id is derived from
// the report id and version and the entry is an update by id: still idempotent.
func (b *builder) provenanceEntry() {
	r := b.r
	activity, reason := "CREATE", "Report issued"
	if r.Version > 1 {
		activity, reason = "UPDATE", "Report "+string(r.Status)+" (version "+itoa(r.Version)+")"
	}
	sum := sha256.Sum256([]byte(r.PerformingLab.ODSCode + "|" + r.ID + "|" + itoa(r.Version)))
	id := "rg-" + hex.EncodeToString(sum[:20])
	recorded := instant(r.Issued)
	if recorded == nil {
		return // Provenance.recorded is required, and a report without an issue time gives none
	}
	prov := &provpb.Provenance{
		Id:       &d4pb.Id{Value: id},
		Target:   []*d4pb.Reference{ref(b.report, "")},
		Recorded: recorded,
		Activity: concept(systemDataOp, activity, ""),
		Reason:   []*d4pb.CodeableConcept{text(reason)},
		Agent: []*provpb.Provenance_Agent{{
			Type: concept(systemProvAgent, "author", "Author"),
			Who:  ref(b.lab, r.PerformingLab.Name),
		}},
	}
	for i, role := range b.roles {
		a := r.Authorisers[i]
		prov.Agent = append(prov.Agent, &provpb.Provenance_Agent{
			Type:       concept(systemProvAgent, "attester", "Attester"),
			Who:        ref(role, a.Name),
			OnBehalfOf: ref(b.lab, r.PerformingLab.Name),
		})
		// When each authoriser signed the report off: R4 has no time on a
		// DiagnosticReport's interpreters, so it is a verification signature
		// (its when and who) on the Provenance of this version.
		if when := instant(a.AuthorisedAt); when != nil {
			prov.Signature = append(prov.Signature, &d4pb.Signature{
				Type: []*d4pb.Coding{coding(systemSignatureType, "1.2.840.10065.1.12.1.5", "Verification Signature")},
				When: when,
				Who:  ref(role, a.Name),
			})
		}
	}
	if p := r.Previous; p != nil {
		// The report this one re-interprets: a derivation of it, named by
		// that version's document identifier (or the report's, when the
		// gateway never had it).
		what := &d4pb.Reference{Identifier: ident(b.m.system("report"), p.ID), Display: str("Report " + p.ID)}
		if p.Version > 0 {
			what = &d4pb.Reference{Identifier: ident(b.m.system("document-version"), p.ID+"-v"+itoa(p.Version)),
				Display: str("Version " + itoa(p.Version) + " of report " + p.ID)}
		}
		prov.Entity = append(prov.Entity, &provpb.Provenance_Entity{
			Role: &provpb.Provenance_Entity_RoleCode{Value: c4pb.ProvenanceEntityRoleCode_DERIVATION}, What: what})
		prov.Reason = append(prov.Reason, text(relationWords[p.Relation]))
	}
	if r.Version > 1 {
		prev := ident(b.m.system("document-version"), r.ID+"-v"+itoa(r.Version-1))
		prov.Entity = append(prov.Entity, &provpb.Provenance_Entity{
			Role: &provpb.Provenance_Entity_RoleCode{Value: c4pb.ProvenanceEntityRoleCode_REVISION},
			What: &d4pb.Reference{Identifier: prev, Display: str("Version " + itoa(r.Version-1) + " of report " + r.ID)},
		})
	}
	b.bundle.Entry = append(b.bundle.Entry, &r4pb.Bundle_Entry{
		FullUrl:  uri(uuidFor(r.ID + "|provenance|" + itoa(r.Version))),
		Resource: &r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Provenance{Provenance: prov}},
		Request: &r4pb.Bundle_Entry_Request{
			Method: &r4pb.Bundle_Entry_Request_MethodCode{Value: c4pb.HTTPVerbCode_PUT},
			Url:    uri("Provenance/" + id),
		},
	})
}
