package fhirr4

import (
	"crypto/sha1"
	"strings"

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
		Text:       narrative(r),
		Identifier: []*d4pb.Identifier{ident(id.system, id.value), local},
		BasedOn:    []*d4pb.Reference{b.orderReference()},
		Status:     &drpb.DiagnosticReport_StatusCode{Value: reportStatuses[r.Status]},
		Subject:    ref(b.patient, ""),
		Issued:     instant(r.Issued),
		Performer:  []*d4pb.Reference{performer},
		Conclusion: optStr(conclusion(r)),
	}
	if r.IsGenomic() {
		dr.Meta = meta(profileReport)
		// NHS England's report asks for issued, a specimen, the order and a
		// performer (basedOn and performer are always written), and that
		// each specimen meets NHS England's specimen profile.
		if dr.Issued != nil && len(b.specimens) > 0 && b.specimensMeetNHSE() {
			dr.Meta = meta(profileReport, profileNHSEReport)
		}
		dr.Category = []*d4pb.CodeableConcept{concept(systemV20074, "GE", "Genetics"), concept(systemV20074, "LAB", "Laboratory")}
		dr.Code = &d4pb.CodeableConcept{Coding: []*d4pb.Coding{
			coding(systemLOINC, gateway.CodeGeneticAnalysis, "Genetic analysis report"),
			coding(systemSNOMED, gateway.CodeGeneticReport, "Genetic report"),
		}}
		if test := b.testCode(); test != nil { // the test ordered, so an EPR can find reports by R-code
			dr.Code.Coding = append(dr.Code.Coding, test.Coding...)
			dr.Code.Text = test.Text
		}
		dr.Extension = []*d4pb.Extension{extension(igBase+"genomic-study-reference", extRef(ref(b.study, "")))}
	} else {
		dr.Category = []*d4pb.CodeableConcept{concept(systemV20074, "LAB", "Laboratory")}
		dr.Code = &d4pb.CodeableConcept{Coding: []*d4pb.Coding{coding(systemSNOMED, gateway.CodeLabReport, "Laboratory report")},
			Text: optStr(groupNames(r))}
	}
	if effective := b.effective(); effective != nil {
		dr.Effective = &drpb.DiagnosticReport_EffectiveX{Choice: &drpb.DiagnosticReport_EffectiveX_DateTime{DateTime: effective}}
	}
	notes := append([]string{}, r.Notes...)
	if r.Result.Limitations != "" {
		notes = append(notes, "Limitations: "+r.Result.Limitations)
	}
	for _, n := range notes {
		url := igBase + "genomic-report-note"
		if !r.IsGenomic() {
			url = extNoteR5
		}
		dr.Extension = append(dr.Extension, extension(url, &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Annotation{
			Annotation: &d4pb.Annotation{Text: &d4pb.Markdown{Value: n}}}}))
	}
	for i, role := range b.roles {
		dr.ResultsInterpreter = append(dr.ResultsInterpreter, ref(role, r.Authorisers[i].Name))
	}
	for _, s := range b.specimens {
		dr.Specimen = append(dr.Specimen, ref(s, ""))
	}
	for i := range b.variants {
		dr.Result = append(dr.Result, ref(b.variants[i], ""))
		if b.implications[i] != "" {
			dr.Result = append(dr.Result, ref(b.implications[i], ""))
		}
	}
	for i, p := range b.panels {
		dr.Result = append(dr.Result, ref(p, r.ResultGroups[i].Code.Text()))
	}
	if a, ok := outcomeAnswers[r.Result.Outcome]; ok {
		dr.ConclusionCode = []*d4pb.CodeableConcept{loinc(a.code, a.display)}
	}
	if r.Unstructured {
		// Only a PDF and text arrived: say so, so nobody mistakes the absence of
		// coded findings for a negative result.
		if dr.Meta == nil {
			dr.Meta = &d4pb.Meta{}
		}
		dr.Meta.Tag = append(dr.Meta.Tag, &d4pb.Coding{System: uri(b.m.system("report-tag")), Code: code("unstructured"),
			Display: str("Unstructured report: PDF and text only, no coded findings")})
	}
	dr.PresentedForm = append([]*d4pb.Attachment{b.pdfAttachment()}, b.attachments()...)
	b.report = b.conditionalUpdate("diagnostic-report", "DiagnosticReport", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_DiagnosticReport{DiagnosticReport: dr}})
}

func (b *builder) specimensMeetNHSE() bool {
	for _, sp := range b.specimenResources {
		if sp.Meta == nil {
			return false
		}
	}
	return true
}

// effective is when the samples were taken: the first specimen's
// collection, else the first result group's.
func (b *builder) effective() *d4pb.DateTime {
	if len(b.r.Specimens) > 0 {
		return dateTime(b.r.Specimens[0].Collected)
	}
	for _, g := range b.r.ResultGroups {
		if t := dateTime(g.Collected); t != nil {
			return t
		}
	}
	return nil
}

// groupNames names a laboratory report by its tests: "HbA1c; Full blood count".
func groupNames(r *gateway.Report) string {
	var names []string
	for _, g := range r.ResultGroups {
		if t := g.Code.Text(); t != "" {
			names = append(names, t)
		}
	}
	return strings.Join(names, "; ")
}

// attachments are the lab's further documents, inline or by reference.
func (b *builder) attachments() []*d4pb.Attachment {
	var out []*d4pb.Attachment
	for _, a := range b.r.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/pdf"
		}
		att := &d4pb.Attachment{ContentType: &d4pb.Attachment_ContentTypeCode{Value: ct}, Title: optStr(a.Title)}
		if a.URL != "" {
			att.Url = &d4pb.Url{Value: a.URL}
		} else {
			hash := sha1.Sum(a.Data)
			att.Data = &d4pb.Base64Binary{Value: a.Data}
			att.Size = &d4pb.UnsignedInt{Value: uint32(len(a.Data))}
			att.Hash = &d4pb.Base64Binary{Value: hash[:]}
		}
		out = append(out, att)
	}
	return out
}

// conclusion is what changed since the earlier report (one "Reclassified:
// ..." line each), then the lab's conclusion and its interpretation.
func conclusion(r *gateway.Report) string {
	text := r.Result.Conclusion
	if r.Result.Interpretation != "" {
		text += "\n\n" + r.Result.Interpretation
	}
	if len(r.Changes) > 0 {
		var lines []string
		for _, c := range r.Changes {
			lines = append(lines, c.Statement())
		}
		text = strings.Join(lines, "\n") + "\n\n" + text
	}
	return text
}

// pdfAttachment is the report PDF, inline, with its size and SHA-1 hash as FHIR defines them.
func (b *builder) pdfAttachment() *d4pb.Attachment {
	if b.pdfHash == nil { // the DiagnosticReport and the DocumentReference both carry it
		sum := sha1.Sum(b.pdf)
		b.pdfHash = sum[:]
	}
	title := "Genomic test report " + b.r.ID + " version " + itoa(b.r.Version)
	if !b.r.IsGenomic() {
		title = "Laboratory report " + b.r.ID + " version " + itoa(b.r.Version)
	}
	if b.r.PDF != nil && b.r.PDF.Title != "" {
		title = b.r.PDF.Title
	}
	return &d4pb.Attachment{
		ContentType: &d4pb.Attachment_ContentTypeCode{Value: "application/pdf"},
		Language:    code("en-GB"),
		Url:         &d4pb.Url{Value: b.binary}, // the Binary entry: the PDF is in the Bundle once
		Size:        &d4pb.UnsignedInt{Value: uint32(len(b.pdf))},
		Hash:        &d4pb.Base64Binary{Value: b.pdfHash},
		Title:       str(title),
		Creation:    dateTime(b.r.Issued),
	}
}
