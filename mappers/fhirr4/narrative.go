package fhirr4

import (
	"cmp"
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
		if strings.TrimSpace(value) != "" {
			w.WriteString("<tr><th>" + label + "</th><td>" + e(value) + "</td></tr>")
		}
	}
	w.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	title := strings.TrimSpace(r.Test.Code + " " + r.Test.Name)
	if title == "" {
		title = groupNames(r)
	}
	if title != "" {
		w.WriteString("<h2>" + e(title) + "</h2>")
	}
	if r.Result.Outcome != "" || r.Result.Conclusion != "" {
		w.WriteString("<p>")
		if r.Result.Outcome != "" {
			w.WriteString("<b>Result: " + e(strings.ToUpper(r.Result.Outcome)) + ".</b> ")
		}
		w.WriteString(e(r.Result.Conclusion) + "</p>")
	}
	w.WriteString("<table>")
	row("Report", r.ID+" version "+itoa(r.Version)+" ("+string(r.Status)+")")
	row("Issued", r.Issued)
	row("Patient", strings.TrimSpace(r.Patient.Name.Prefix+" "+strings.Join(r.Patient.Name.Given, " ")+" "+r.Patient.Name.Family))
	row("NHS number", r.Patient.NHSNumber)
	row("CHI number", r.Patient.CHINumber)
	row("Health and Care number", r.Patient.HCNumber)
	if r.Patient.MRN != "" {
		row("Local MRN", strings.TrimSpace(r.Patient.MRN+" "+r.Patient.MRNAuthority))
	}
	row("Date of birth", r.Patient.BirthDate)
	row("Laboratory", strings.TrimSpace(r.PerformingLab.Name+" ("+r.PerformingLab.ODSCode+")"))
	if r.OrderingTrust.ODSCode != "" {
		row("Requested by", strings.TrimSpace(r.OrderingTrust.Name+" ("+r.OrderingTrust.ODSCode+")"))
	}
	row("Reason for test", r.Test.Reason)
	for _, p := range r.Test.Panels {
		row("Panel", "PanelApp "+p.PanelAppID+" "+p.Name+" v"+p.Version)
	}
	for _, rel := range r.Relatives {
		row("Relative tested", rel.Relationship+" ("+rel.Affected+")")
	}
	w.WriteString("</table>")
	if len(r.Variants) > 0 {
		w.WriteString("<table><tr><th>Gene</th><th>Variant</th><th>Protein</th><th>Zygosity</th><th>Origin</th><th>Inheritance</th><th>Classification</th></tr>")
		for i := range r.Variants {
			v := &r.Variants[i]
			w.WriteString("<tr><td>" + e(v.Gene.Symbol) + "</td><td>" + e(variantName(v)) + "</td><td>" + e(v.HGVS.P) +
				"</td><td>" + e(cmp.Or(v.NotFound(), v.Zygosity)) + "</td><td>" + e(v.Origin) + "</td><td>" + e(v.Inheritance) + "</td><td>" + e(v.Classification.ACMG) + "</td></tr>")
		}
		w.WriteString("</table>")
	}
	for _, g := range r.ResultGroups {
		w.WriteString("<table><tr><th colspan=\"4\">" + e(g.Code.Text()) + "</th></tr>")
		for _, o := range g.Observations {
			value := o.Comparator + o.Value
			if o.Coded != nil {
				value = o.Coded.Text()
			}
			w.WriteString("<tr><td>" + e(o.Code.Text()) + "</td><td>" + e(strings.TrimSpace(value+" "+o.Unit)) + "</td><td>" +
				e(o.ReferenceRange) + "</td><td>" + e(o.Interpretation) + "</td></tr>")
		}
		w.WriteString("</table>")
		for _, n := range g.Notes {
			w.WriteString("<p>" + e(n) + "</p>")
		}
	}
	if r.Result.Interpretation != "" {
		w.WriteString("<p>" + e(r.Result.Interpretation) + "</p>")
	}
	if r.Result.Limitations != "" {
		w.WriteString("<p><i>Limitations:</i> " + e(r.Result.Limitations) + "</p>")
	}
	for _, n := range r.Notes {
		w.WriteString("<p>" + e(n) + "</p>")
	}
	var names []string
	for _, a := range r.Authorisers {
		name := a.Name + " (" + a.Role + ")"
		if a.AuthorisedAt != "" {
			name += " at " + a.AuthorisedAt
		}
		names = append(names, name)
	}
	if len(names) > 0 {
		w.WriteString("<p>Authorised by " + e(strings.Join(names, "; ")) + "</p>")
	}
	if len(r.Warnings) > 0 {
		w.WriteString("<p><b>Notes from the Results Gateway</b> (the report was filed as the laboratory sent it):</p><ul>")
		for _, warn := range r.Warnings {
			w.WriteString("<li>" + e(strings.TrimSpace(warn.Path+" "+warn.Message)) + "</li>")
		}
		w.WriteString("</ul>")
	}
	w.WriteString("</div>")
	return &d4pb.Narrative{
		Status: &d4pb.Narrative_StatusCode{Value: c4pb.NarrativeStatusCode_GENERATED},
		Div:    &d4pb.Xhtml{Value: w.String()},
	}
}
