package fhirr4

import (
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	procpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/procedure_go_proto"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// studyEntries adds the Genomic Study and its Genomic Study Analysis
// (Procedures, as the IG's trio examples do): the method, the virtual panels
// as analysed regions, the specimens and the tested relatives as the focus.
func (b *builder) studyEntries() {
	method, knownMethod := answer{methodTypes[b.r.Test.Method], gateway.TestMethodNames[b.r.Test.Method]}, methodTypes[b.r.Test.Method] != ""
	analysisKey := identifier{b.m.system("genomic-study-analysis"), b.r.ID}
	analysis := &procpb.Procedure{
		Meta:       meta(profileAnalysis),
		Identifier: []*d4pb.Identifier{ident(analysisKey.system, analysisKey.value)},
		Status:     &procpb.Procedure_StatusCode{Value: c4pb.EventStatusCode_COMPLETED},
		Category:   concept(systemObsCategory, "laboratory", "Laboratory"),
		Subject:    ref(b.patient, ""),
		Performed:  b.performed(),
		Performer:  []*procpb.Procedure_Performer{{Actor: ref(b.lab, b.r.PerformingLab.Name)}},
	}
	ext := func(name string, v *d4pb.Extension_ValueX) {
		analysis.Extension = append(analysis.Extension, extension(igBase+"genomic-study-analysis-"+name, v))
	}
	if knownMethod {
		ext("method-type", extConcept(&d4pb.CodeableConcept{
			Coding: []*d4pb.Coding{coding(systemMethodType, method.code, "")}, Text: str(method.display)}))
	}
	if build := b.genomeBuild(); build != "" {
		a := buildAnswers[build]
		ext("genome-build", extConcept(loinc(a.code, a.display)))
	}
	title := strings.TrimSpace(b.r.Test.Code + " " + b.r.Test.Name)
	if knownMethod {
		title += " (" + method.display + ")"
	}
	if title != "" {
		ext("title", extString(title))
	}
	for i, rel := range b.r.Relatives {
		ext("focus", extRef(ref(b.relatives[i], rel.Relationship+" ("+rel.Affected+")")))
	}
	for _, s := range b.specimens {
		ext("specimen", extRef(ref(s, "")))
	}
	for _, p := range b.r.Test.Panels {
		regions := &d4pb.Extension{Url: uri(igBase + "genomic-study-analysis-regions")}
		sub := func(url string, v *d4pb.Extension_ValueX) {
			regions.Extension = append(regions.Extension, extension(url, v))
		}
		sub("description", extString("PanelApp panel "+p.PanelAppID+" "+p.Name+" version "+p.Version))
		for _, g := range p.Genes {
			sub("studied", extConcept(concept(systemHGNC, g.HGNCID, g.Symbol)))
		}
		analysis.Extension = append(analysis.Extension, regions)
		analysis.InstantiatesUri = append(analysis.InstantiatesUri,
			uri("https://panelapp.genomicsengland.co.uk/panels/"+p.PanelAppID+"/v"+p.Version))
	}
	if t := b.r.Test; len(t.GenesStudied) > 0 || len(t.RegionsStudied) > 0 || len(t.VariantsTested) > 0 {
		regions := &d4pb.Extension{Url: uri(igBase + "genomic-study-analysis-regions")}
		var parts []string
		if len(t.RegionsStudied) > 0 {
			parts = append(parts, "Regions examined: "+strings.Join(t.RegionsStudied, ", "))
		}
		if len(t.VariantsTested) > 0 {
			parts = append(parts, "Variants tested: "+strings.Join(t.VariantsTested, ", "))
		}
		if len(parts) == 0 {
			parts = append(parts, "Genes studied")
		}
		regions.Extension = append(regions.Extension, extension("description", extString(strings.Join(parts, "; "))))
		for _, g := range t.GenesStudied {
			if gc := geneConcept(g); gc != nil {
				regions.Extension = append(regions.Extension, extension("studied", extConcept(gc)))
			}
		}
		analysis.Extension = append(analysis.Extension, regions)
	}
	b.analysis = b.conditionalUpdate("genomic-study-analysis", "Procedure", analysisKey,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Procedure{Procedure: analysis}})

	studyKey := identifier{b.m.system("genomic-study"), b.r.ID}
	study := &procpb.Procedure{
		Meta:       meta(profileStudy),
		Identifier: []*d4pb.Identifier{ident(studyKey.system, studyKey.value)},
		BasedOn:    []*d4pb.Reference{ref(b.serviceRequest, "")},
		Status:     &procpb.Procedure_StatusCode{Value: c4pb.EventStatusCode_COMPLETED},
		Category:   concept(systemObsCategory, "laboratory", "Laboratory"),
		Code:       b.testCode(),
		Subject:    ref(b.patient, ""),
		Performed:  b.performed(),
		Extension:  []*d4pb.Extension{extension(igBase+"genomic-study-analysis-ext", extRef(ref(b.analysis, "")))},
	}
	if b.requester != "" {
		study.Extension = append(study.Extension, extension(igBase+"genomic-study-referrer-ext", extRef(ref(b.requester, ""))))
	}
	b.study = b.conditionalUpdate("genomic-study", "Procedure", studyKey,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Procedure{Procedure: study}})
}

func (b *builder) performed() *procpb.Procedure_PerformedX {
	t := dateTime(b.r.Issued)
	if t == nil {
		return nil
	}
	return &procpb.Procedure_PerformedX{Choice: &procpb.Procedure_PerformedX_DateTime{DateTime: t}}
}

// genomeBuild is the build the variants were called against, if any variant says.
func (b *builder) genomeBuild() string {
	for _, v := range b.r.Variants {
		if v.GenomeBuild != "" {
			return v.GenomeBuild
		}
	}
	return ""
}
