package fhirr4

import (
	"html"
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// narrative renders the DiagnosticReport's human-readable XHTML. Every value
// from the lab is escaped: a report is data, never markup.
func narrative(r *gateway.Report) *d4pb.Narrative {
	var w strings.Builder
	e := html.EscapeString
	row := func(label, value string) {
		if value != "" {
			w.WriteString("<tr><th>" + label + "</th><td>" + e(value) + "</td></tr>")
		}
	}
	w.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	w.WriteString("<h2>" + e(r.Test.Code+" "+r.Test.Name) + "</h2>")
	w.WriteString("<p><b>Result: " + e(strings.ToUpper(r.Result.Outcome)) + ".</b> " + e(r.Result.Conclusion) + "</p>")
	w.WriteString("<table>")
	row("Report", r.ID+" version "+itoa(r.Version)+" ("+string(r.Status)+")")
	row("Issued", r.Issued)
	row("Patient", strings.Join(r.Patient.Name.Given, " ")+" "+r.Patient.Name.Family)
	row("NHS number", r.Patient.NHSNumber)
	row("Date of birth", r.Patient.BirthDate)
	row("Laboratory", r.PerformingLab.Name+" ("+r.PerformingLab.ODSCode+")")
	row("Requested by", r.OrderingTrust.Name+" ("+r.OrderingTrust.ODSCode+")")
	for _, p := range r.Test.Panels {
		row("Panel", "PanelApp "+p.PanelAppID+" "+p.Name+" v"+p.Version)
	}
	w.WriteString("</table>")
	if len(r.Variants) > 0 {
		w.WriteString("<table><tr><th>Gene</th><th>Variant</th><th>Protein</th><th>Zygosity</th><th>Inheritance</th><th>Classification</th></tr>")
		for i := range r.Variants {
			v := &r.Variants[i]
			w.WriteString("<tr><td>" + e(v.Gene.Symbol) + "</td><td>" + e(variantName(v)) + "</td><td>" + e(v.HGVS.P) +
				"</td><td>" + e(v.Zygosity) + "</td><td>" + e(v.Inheritance) + "</td><td>" + e(v.Classification.ACMG) + "</td></tr>")
		}
		w.WriteString("</table>")
	}
	if r.Result.Interpretation != "" {
		w.WriteString("<p>" + e(r.Result.Interpretation) + "</p>")
	}
	if r.Result.Limitations != "" {
		w.WriteString("<p><i>Limitations:</i> " + e(r.Result.Limitations) + "</p>")
	}
	var names []string
	for _, a := range r.Authorisers {
		names = append(names, a.Name+" ("+a.Role+")")
	}
	w.WriteString("<p>Authorised by " + e(strings.Join(names, "; ")) + "</p></div>")
	return &d4pb.Narrative{
		Status: &d4pb.Narrative_StatusCode{Value: c4pb.NarrativeStatusCode_GENERATED},
		Div:    &d4pb.Xhtml{Value: w.String()},
	}
}
