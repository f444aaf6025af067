package fhirr4

import (
	"crypto/sha1"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	drpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/diagnostic_report_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var reportStatuses = map[gateway.Status]c4pb.DiagnosticReportStatusCode_Value{
	gateway.StatusPreliminary: c4pb.DiagnosticReportStatusCode_PRELIMINARY, gateway.StatusFinal: c4pb.DiagnosticReportStatusCode_FINAL,
	gateway.StatusAmended: c4pb.DiagnosticReportStatusCode_AMENDED, gateway.StatusCorrected: c4pb.DiagnosticReportStatusCode_CORRECTED,
	gateway.StatusEnteredInError: c4pb.DiagnosticReportStatusCode_ENTERED_IN_ERROR,
	gateway.StatusCancelled:      c4pb.DiagnosticReportStatusCode_CANCELLED,
}

// reportIdentifier is the DiagnosticReport's business identifier: the key of
// the conditional update that makes a later version replace an earlier one.
func (b *builder) reportIdentifier() identifier {
	return identifier{b.m.system("report"), b.r.ID}
}

func (b *builder) reportEntry() {
	r := b.r
	id := b.reportIdentifier()
	local := ident(systemNHSELocalDR, r.ID)
	local.Assigner = &d4pb.Reference{Identifier: ident(systemODS, r.PerformingLab.ODSCode)}
	performer := ref(b.lab, r.PerformingLab.Name)
	performer.Identifier = ident(systemODS, r.PerformingLab.ODSCode)
	dr := &drpb.DiagnosticReport{
		Meta:       meta(profileReport),
		Text:       narrative(r),
		Identifier: []*d4pb.Identifier{ident(id.system, id.value), local},
		BasedOn:    []*d4pb.Reference{ref(b.serviceRequest, "")},
		Status:     &drpb.DiagnosticReport_StatusCode{Value: reportStatuses[r.Status]},
		Category: []*d4pb.CodeableConcept{
			concept(systemV20074, "GE", "Genetics"),
			concept(systemV20074, "LAB", "Laboratory"),
		},
		Code: &d4pb.CodeableConcept{Coding: []*d4pb.Coding{
			coding(systemLOINC, "51969-4", "Genetic analysis report"),
			coding(systemSNOMED, "1054161000000101", "Genetic report"),
			b.testCode().Coding[0], // the test ordered, so an EPR can find reports by R-code
		}, Text: str(r.Test.Name)},
		Subject:    ref(b.patient, ""),
		Issued:     instant(r.Issued),
		Performer:  []*d4pb.Reference{performer},
		Conclusion: str(conclusion(r)),
		Extension:  []*d4pb.Extension{extension(igBase+"genomic-study-reference", extRef(ref(b.study, "")))},
	}
	if len(r.Specimens) > 0 {
		dr.Effective = &drpb.DiagnosticReport_EffectiveX{Choice: &drpb.DiagnosticReport_EffectiveX_DateTime{
			DateTime: dateTime(r.Specimens[0].Collected)}}
	}
	if r.Result.Limitations != "" {
		dr.Extension = append(dr.Extension, extension(igBase+"genomic-report-note",
			&d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Annotation{Annotation: &d4pb.Annotation{
				Text: &d4pb.Markdown{Value: "Limitations: " + r.Result.Limitations}}}}))
	}
	for i, role := range b.roles {
		dr.ResultsInterpreter = append(dr.ResultsInterpreter, ref(role, r.Authorisers[i].Name))
	}
	for _, s := range b.specimens {
		dr.Specimen = append(dr.Specimen, ref(s, ""))
	}
	for i := range b.variants {
		dr.Result = append(dr.Result, ref(b.variants[i], ""), ref(b.implications[i], ""))
	}
	if a, ok := outcomeAnswers[r.Result.Outcome]; ok {
		dr.ConclusionCode = []*d4pb.CodeableConcept{loinc(a.code, a.display)}
	}
	if r.Unstructured {
		// Only a PDF and text arrived: say so, so nobody mistakes the absence of
		// coded findings for a negative result.
		dr.Meta.Tag = append(dr.Meta.Tag, &d4pb.Coding{System: uri(b.m.system("report-tag")), Code: code("unstructured"),
			Display: str("Unstructured report: PDF and text only, no coded findings")})
	}
	dr.PresentedForm = []*d4pb.Attachment{b.pdfAttachment()}
	b.report = b.conditionalUpdate("diagnostic-report", "DiagnosticReport", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_DiagnosticReport{DiagnosticReport: dr}})
}

func conclusion(r *gateway.Report) string {
	if r.Result.Interpretation == "" {
		return r.Result.Conclusion
	}
	return r.Result.Conclusion + "\n\n" + r.Result.Interpretation
}

// pdfAttachment is the report PDF, inline, with its size and SHA-1 hash as FHIR defines them.
func (b *builder) pdfAttachment() *d4pb.Attachment {
	hash := sha1.Sum(b.pdf)
	title := "Genomic test report " + b.r.ID + " version " + itoa(b.r.Version)
	if b.r.PDF != nil && b.r.PDF.Title != "" {
		title = b.r.PDF.Title
	}
	return &d4pb.Attachment{
		ContentType: &d4pb.Attachment_ContentTypeCode{Value: "application/pdf"},
		Language:    code("en-GB"),
		Data:        &d4pb.Base64Binary{Value: b.pdf},
		Size:        &d4pb.UnsignedInt{Value: uint32(len(b.pdf))},
		Hash:        &d4pb.Base64Binary{Value: hash[:]},
		Title:       str(title),
		Creation:    dateTime(b.r.Issued),
	}
}
