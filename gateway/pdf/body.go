package pdf

import (
	"fmt"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var outcomeWords = map[string]string{
	"positive": "POSITIVE", "negative": "NEGATIVE", "inconclusive": "INCONCLUSIVE", "failed": "TEST FAILED",
}

var classWords = map[string]string{
	"pathogenic": "Pathogenic", "likely-pathogenic": "Likely pathogenic", "uncertain-significance": "Uncertain significance (VUS)",
	"likely-benign": "Likely benign", "benign": "Benign",
}

func (w *writer) body(r *gateway.Report) {
	f := w.f
	w.font("B", 15)
	f.MultiCell(contentW, 7, w.tr(r.Test.Code+" "+r.Test.Name), "", "L", false)
	f.Ln(2)

	// The result first, in one plain sentence, in a shaded box.
	f.SetFillColor(232, 237, 238)
	w.font("B", 12)
	f.CellFormat(contentW, 8, w.tr("Result: "+outcomeWords[r.Result.Outcome]), "LTR", 1, "L", true, 0, "")
	w.font("", 11)
	f.MultiCell(contentW, 6, w.tr(r.Result.Conclusion), "LRB", "L", true)

	w.heading("Patient and request")
	p := r.Patient
	w.field("Patient", strings.Join(p.Name.Given, " ")+" "+p.Name.Family)
	w.field("NHS number", FormatNHSNumber(p.NHSNumber))
	w.field("Date of birth", p.BirthDate)
	w.field("Gender", p.Gender)
	w.field("Local MRN", p.MRN)
	w.field("Requested by", orgName(r.OrderingTrust))
	if c := r.RequestingClinician; c != nil {
		w.field("Clinician", c.Name)
	}
	w.field("Order number", r.OrderNumber)

	w.heading("Test")
	w.field("Test", r.Test.Code+" "+r.Test.Name)
	w.field("Directory version", r.Test.DirectoryVersion)
	w.field("Method", methodNames[r.Test.Method])
	for _, panel := range r.Test.Panels {
		genes := ""
		if len(panel.Genes) > 0 {
			var syms []string
			for _, g := range panel.Genes {
				syms = append(syms, g.Symbol)
			}
			genes = " - genes: " + strings.Join(syms, ", ")
		}
		w.field("Virtual panel", fmt.Sprintf("PanelApp %s %s version %s%s", panel.PanelAppID, panel.Name, panel.Version, genes))
	}
	for _, s := range r.Specimens {
		w.field("Specimen", fmt.Sprintf("%s: %s, collected %s, received %s", s.ID, s.Type, s.Collected, s.Received))
	}
	for _, rel := range r.Relatives {
		id := rel.LabID
		if rel.NHSNumber != "" {
			id = "NHS number " + FormatNHSNumber(rel.NHSNumber)
		}
		w.field("Relative tested", fmt.Sprintf("%s (%s), %s", rel.Relationship, rel.Affected, id))
	}

	w.variants(r)
	if r.Result.Interpretation != "" {
		w.heading("Interpretation")
		w.para(r.Result.Interpretation)
	}
	if r.Result.Limitations != "" {
		w.heading("Limitations and coverage")
		w.para(r.Result.Limitations)
	}
	w.heading("Authorised by")
	for _, a := range r.Authorisers {
		w.para(fmt.Sprintf("%s, %s (%s %s), authorised %s", a.Name, a.Role, a.Registration.Body, a.Registration.Number, a.AuthorisedAt))
	}
}

func (w *writer) variants(r *gateway.Report) {
	w.heading("Variants reported")
	if len(r.Variants) == 0 {
		w.para("No reportable variants were identified.")
		return
	}
	f := w.f
	cols := []struct {
		title string
		width float64
	}{{"Gene", 22}, {"Zygosity", 28}, {"Inheritance", 26}, {"Classification", 48}, {"Condition", 56}}
	w.font("B", 9)
	f.SetFillColor(0, 48, 135)
	f.SetTextColor(255, 255, 255)
	for _, c := range cols {
		f.CellFormat(c.width, 6, c.title, "1", 0, "L", true, 0, "")
	}
	f.Ln(-1)
	f.SetTextColor(0, 0, 0)
	for i := range r.Variants {
		v := &r.Variants[i]
		cond := ""
		if v.Condition != nil {
			cond = v.Condition.Name
		}
		w.font("B", 9)
		f.CellFormat(cols[0].width, 6, w.tr(v.Gene.Symbol), "1", 0, "L", false, 0, "")
		w.font("", 9)
		for j, val := range []string{v.Zygosity, inheritance(v), classWords[v.Classification.ACMG], cond} {
			f.CellFormat(cols[j+1].width, 6, w.tr(fit(w, val, cols[j+1].width)), "1", 0, "L", false, 0, "")
		}
		f.Ln(-1)
	}
	// Full descriptions below the table: HGVS strings are long and must never be cut.
	for i := range r.Variants {
		v := &r.Variants[i]
		f.Ln(2)
		w.font("B", 10)
		f.CellFormat(contentW, lineH, w.tr(fmt.Sprintf("%d. %s (%s)", i+1, v.Gene.Symbol, v.Gene.HGNCID)), "", 1, "L", false, 0, "")
		w.field("Transcript", v.Transcript)
		w.field("cDNA (c.)", v.HGVS.C)
		w.field("Protein (p.)", v.HGVS.P)
		w.field("Genomic (g.)", v.HGVS.G)
		w.field("ISCN", v.ISCN)
		pos := fmt.Sprintf("%s chr%s:%d", v.GenomeBuild, v.Chromosome, v.Start)
		if v.End > 0 {
			pos += fmt.Sprintf("-%d", v.End)
		}
		if v.Ref != "" || v.Alt != "" {
			pos += " " + v.Ref + ">" + v.Alt
		}
		w.field("Position", pos)
		if v.CopyNumber != nil {
			w.field("Copy number", fmt.Sprint(*v.CopyNumber))
		}
		if v.HeteroplasmyFraction != nil {
			w.field("Heteroplasmy", fmt.Sprintf("%.0f%%", *v.HeteroplasmyFraction*100))
		}
		class := classWords[v.Classification.ACMG]
		if len(v.Classification.Criteria) > 0 {
			class += " - ACMG criteria met: " + strings.Join(v.Classification.Criteria, ", ")
		}
		w.field("Classification", class)
		if c := v.Condition; c != nil {
			cond := c.Name
			if c.Code != "" {
				cond += fmt.Sprintf(" (%s %s)", strings.ToUpper(c.System), c.Code)
			}
			if c.ModeOfInheritance != "" {
				cond += ", " + c.ModeOfInheritance
			}
			w.field("Condition", cond)
		}
		w.field("Comment", v.Comment)
	}
}

func inheritance(v *gateway.Variant) string {
	if v.Inheritance == "" {
		return v.Origin
	}
	return v.Inheritance
}

// fit shortens s so it fits a table cell; the full value is printed below the table.
func fit(w *writer, s string, width float64) string {
	if w.f.GetStringWidth(w.tr(s)) <= width-2 {
		return s
	}
	for s != "" && w.f.GetStringWidth(w.tr(s+"...")) > width-2 {
		s = s[:len(s)-1]
	}
	return s + "..."
}

func orgName(o gateway.Organisation) string {
	if o.Name == "" {
		return o.ODSCode
	}
	return o.Name + " (" + o.ODSCode + ")"
}

var methodNames = map[string]string{
	"wgs": "Whole genome sequencing", "wes": "Whole exome sequencing", "panel": "Gene panel sequencing",
	"targeted": "Targeted variant analysis", "array": "Microarray", "mlpa": "MLPA", "sanger": "Sanger sequencing",
}
