package pdf

import (
	"fmt"
	"strconv"
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
	f.MultiCell(contentW, 7, w.tr(title(r)), "", "L", false)
	f.Ln(2)

	// A name (or anything else) the PDF cannot show in full is said at
	// once: a clinician matching the report to a patient by a name full of
	// replacement marks must know why, and where the name is whole.
	if len(w.unprintable) > 0 {
		f.SetDrawColor(200, 0, 0)
		f.SetTextColor(200, 0, 0)
		w.font("B", 11)
		f.CellFormat(contentW, 7, w.tr("Some characters cannot be shown in this PDF: they print as \uFFFD"), "LTR", 1, "L", false, 0, "")
		w.font("", 10)
		var lines []string
		for _, u := range w.unprintable {
			var codes []string
			for _, c := range u.chars {
				codes = append(codes, fmt.Sprintf("U+%04X", c))
			}
			lines = append(lines, "- "+fieldWords(u.path)+": "+strings.Join(codes, " "))
		}
		lines = append(lines, "The electronic record (FHIR and HL7 v2) holds them as written. Confirm the patient by NHS number and date of birth.")
		f.MultiCell(contentW, lineH, w.tr(strings.Join(lines, "\n")), "LRB", "L", false)
		f.SetTextColor(0, 0, 0)
		f.SetDrawColor(0, 48, 135)
		f.Ln(3)
	}

	// What changed since the report a clinician may have read comes before
	// anything else: a reclassified variant changes what they must do.
	if len(r.Changes) > 0 {
		f.SetFillColor(255, 236, 204)
		w.font("B", 12)
		f.CellFormat(contentW, 8, w.tr("Changed since the earlier report"), "LTR", 1, "L", true, 0, "")
		w.font("B", 11)
		var lines []string
		for _, c := range r.Changes {
			lines = append(lines, c.Statement())
		}
		f.MultiCell(contentW, 6, w.tr(strings.Join(lines, "\n")), "LRB", "L", true)
		f.Ln(3)
	}

	// The result first, in one plain sentence, in a shaded box.
	f.SetFillColor(232, 237, 238)
	w.font("B", 12)
	headline := "Results"
	if r.IsGenomic() {
		headline = "Result: " + first(outcomeWords[r.Result.Outcome], "see the report's text below")
	}
	f.CellFormat(contentW, 8, w.tr(headline), "LTR", 1, "L", true, 0, "")
	w.font("", 11)
	f.MultiCell(contentW, 6, w.tr(first(r.Result.Conclusion, " ")), "LRB", "L", true)

	w.heading("Patient and request")
	p := r.Patient
	w.field("Patient", strings.TrimSpace(p.Name.Prefix+" "+strings.Join(p.Name.Given, " ")+" "+p.Name.Family))
	w.field("NHS number", FormatNHSNumber(p.NHSNumber))
	w.field("CHI number", FormatNHSNumber(p.CHINumber))
	w.field("H&C number", FormatNHSNumber(p.HCNumber))
	w.field("Date of birth", p.BirthDate)
	w.field("Gender", p.Gender)
	if p.PedigreeNumber != "" {
		w.field("Pedigree number", p.PedigreeNumber)
	}
	if p.MRN != "" {
		w.field("Local MRN", strings.TrimSpace(p.MRN+" ("+p.MRNAuthority+")"))
	}
	if a := p.Address; a != nil {
		w.field("Address", strings.Join(nonEmpty(append(append([]string{}, a.Lines...), a.City, a.District, a.Postcode)...), ", "))
	}
	if r.OrderingTrust.ODSCode != "" {
		w.field("Requested by", orgName(r.OrderingTrust))
	}
	if c := r.RequestingClinician; c != nil {
		reg := ""
		if c.Registration != nil {
			reg = strings.TrimSpace(c.Registration.Body + " " + c.Registration.Number)
		}
		w.field("Clinician", c.Name+suffix(" (", reg, ")"))
	}
	w.field("Order number", r.OrderNumber)
	var copies []string
	for _, o := range r.CopyTo {
		copies = append(copies, orgName(o))
	}
	w.field("Copies to", strings.Join(copies, "; "))
	if p := r.Previous; p != nil {
		earlier := "report " + p.ID
		if p.Version > 0 {
			earlier += fmt.Sprintf(" version %d", p.Version)
		}
		w.field("Follows", earlier+suffix(" (", p.Relation, ")")+suffix(", order ", p.OrderNumber, ""))
	}

	if r.IsGenomic() || r.Test.Code != "" || r.Test.LocalCode != nil || len(r.Specimens) > 0 || r.Test.Reason != "" {
		w.test(r)
	}
	if r.IsGenomic() {
		w.variants(r)
	}
	w.results(r)
	if r.Result.Interpretation != "" {
		w.heading("Interpretation")
		w.para(r.Result.Interpretation)
	}
	if r.Result.Limitations != "" {
		w.heading("Limitations and coverage")
		w.para(r.Result.Limitations)
	}
	if len(r.Notes) > 0 {
		w.heading("Notes from the laboratory")
		for _, n := range r.Notes {
			w.para(n)
		}
	}
	if len(r.Attachments) > 0 {
		w.heading("Documents sent with this report (in the electronic record)")
		for _, a := range r.Attachments {
			w.para(first(a.Title, "Untitled document") + " (" + first(a.ContentType, "application/pdf") + ")" + suffix(" at ", a.URL))
		}
	}
	if len(r.Authorisers) > 0 {
		w.heading("Authorised by")
		for _, a := range r.Authorisers {
			line := a.Name
			if a.Role != "" {
				line += ", " + a.Role
			}
			if reg := strings.TrimSpace(a.Registration.Body + " " + a.Registration.Number); reg != "" {
				line += " (" + reg + ")"
			}
			if a.AuthorisedAt != "" {
				line += ", authorised " + a.AuthorisedAt
			}
			w.para(line) // nothing empty printed: "Name, , ()" reads as something missing
		}
	}
	if len(r.Warnings) > 0 {
		w.heading("Notes from the Results Gateway")
		w.para("The gateway filed this report as the laboratory sent it. It noticed:")
		for _, warn := range r.Warnings {
			w.para("- " + strings.TrimSpace(warn.Path+" "+warn.Message) + suffix(" (", warn.Source, ")"))
		}
	}
}

// fieldWords names a report field for a reader: patient.name.given[0] is
// "patient name (given name 1)".
func fieldWords(path string) string {
	switch {
	case strings.HasPrefix(path, "patient.name.given"):
		return "the patient's given name"
	case path == "patient.name.family":
		return "the patient's family name"
	case strings.HasPrefix(path, "patient.name"):
		return "the patient's name"
	}
	return path
}

func title(r *gateway.Report) string {
	if t := strings.TrimSpace(r.Test.Code + " " + r.Test.Name); t != "" {
		return t
	}
	var names []string
	for _, g := range r.ResultGroups {
		names = append(names, g.Code.Text())
	}
	if len(names) > 0 {
		return strings.Join(names, "; ")
	}
	return "Laboratory report"
}

func (w *writer) test(r *gateway.Report) {
	w.heading("Test")
	if r.Test.DirectoryName != "" && r.Test.DirectoryName != r.Test.Name {
		w.field("Test", strings.TrimSpace(r.Test.Code+" "+r.Test.DirectoryName))
		w.field("Laboratory's name", r.Test.Name)
	} else {
		w.field("Test", strings.TrimSpace(r.Test.Code+" "+r.Test.Name))
	}
	if l := r.Test.LocalCode; l != nil {
		w.field("Laboratory's code", strings.TrimSpace(l.Code+" "+l.Display))
	}
	w.field("Directory version", r.Test.DirectoryVersion)
	w.field("Method", gateway.TestMethodNames[r.Test.Method])
	w.field("Reason for test", r.Test.Reason)
	for _, c := range r.Test.Conditions {
		w.field("Condition assessed", strings.TrimSpace(c.Display+suffix(" (", c.Code, ")")))
	}
	if len(r.Test.VariantsTested) > 0 {
		w.field("Variants tested", strings.Join(r.Test.VariantsTested, ", "))
	}
	if len(r.Test.GenesStudied) > 0 {
		var genes []string
		for _, g := range r.Test.GenesStudied {
			genes = append(genes, strings.TrimSpace(g.Symbol+suffix(" (", g.HGNCID, ")")))
		}
		w.field("Genes studied", strings.Join(genes, ", "))
	}
	if len(r.Test.RegionsStudied) > 0 {
		w.field("Regions examined", strings.Join(r.Test.RegionsStudied, ", "))
	}
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
		w.field("Specimen", strings.Join(nonEmpty(s.ID+":", s.Type, suffix("collected ", s.Collected), suffix("received ", s.Received)), " "))
	}
	for _, rel := range r.Relatives {
		id := rel.LabID
		if rel.NHSNumber != "" {
			id = "NHS number " + FormatNHSNumber(rel.NHSNumber)
		}
		w.field("Relative tested", fmt.Sprintf("%s (%s), %s", rel.Relationship, rel.Affected, id))
	}
}

// results prints each group of ordinary results as a table: test, value
// with its unit, the normal range and the flag.
func (w *writer) results(r *gateway.Report) {
	for _, g := range r.ResultGroups {
		heading := g.Code.Text() + suffix(", lab number ", g.ID)
		if g.Collected != "" {
			heading += " (sample " + g.Collected + ")"
		}
		w.heading(heading)
		for _, o := range g.Observations {
			value := o.Comparator + o.Value
			if o.Coded != nil {
				value = o.Coded.Text()
			}
			if o.AbsentReason != "" {
				value = strings.TrimSpace(value + " (no result: " + o.AbsentReason + ")")
			}
			line := strings.TrimSpace(value + " " + o.Unit)
			if o.ReferenceRange != "" {
				line += "   [range " + o.ReferenceRange + "]"
			}
			if o.Interpretation != "" {
				line += "   flag " + o.Interpretation
			}
			if o.Status != "" {
				line += "   (" + string(o.Status) + ")"
			}
			if o.Observed != "" && o.Observed != g.Collected {
				line += "   observed " + o.Observed
			}
			w.field(o.Code.Text(), line)
			for _, n := range o.Notes {
				w.field("", n)
			}
		}
		for _, n := range g.Notes {
			w.para(n)
		}
	}
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// suffix joins parts when value is not empty: suffix(" (", code, ")").
func suffix(before, value string, after ...string) string {
	if value == "" {
		return ""
	}
	return before + value + strings.Join(after, "")
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if strings.TrimSpace(v) != "" && v != ":" {
			out = append(out, v)
		}
	}
	return out
}

func (w *writer) variants(r *gateway.Report) {
	w.heading("Variants reported")
	if len(r.Variants) == 0 {
		w.para("No reportable variants were identified.")
		return
	}
	f := w.f
	// Each row is numbered as its full description below is: two variants
	// in one gene, or a hundred, are otherwise told apart by nothing.
	cols := []struct {
		title string
		width float64
	}{{"Gene", 30}, {"Zygosity", 28}, {"Inheritance", 26}, {"Classification", 44}, {"Condition", 52}}
	titles := func() {
		w.font("B", 9)
		f.SetFillColor(0, 48, 135)
		f.SetTextColor(255, 255, 255)
		for _, c := range cols {
			f.CellFormat(c.width, 6, c.title, "1", 0, "L", true, 0, "")
		}
		f.Ln(-1)
		f.SetTextColor(0, 0, 0)
	}
	titles()
	_, pageH := f.GetPageSize()
	_, _, _, bottom := f.GetMargins()
	for i := range r.Variants {
		if f.GetY()+6 > pageH-bottom { // the table goes on over the page: its titles again
			f.AddPage()
			titles()
		}
		v := &r.Variants[i]
		cond := ""
		if v.Condition != nil {
			cond = v.Condition.Name
		}
		w.font("B", 9)
		f.CellFormat(cols[0].width, 6, w.tr(fit(w, strconv.Itoa(i+1)+". "+v.Gene.Symbol, cols[0].width)), "1", 0, "L", false, 0, "")
		w.font("", 9)
		zygosity := first(v.NotFound(), v.Zygosity)
		for j, val := range []string{zygosity, inheritance(v), classWords[v.Classification.ACMG], cond} {
			f.CellFormat(cols[j+1].width, 6, w.tr(fit(w, val, cols[j+1].width)), "1", 0, "L", false, 0, "")
		}
		f.Ln(-1)
	}
	// Full descriptions below the table: HGVS strings are long and must never be cut.
	for i := range r.Variants {
		v := &r.Variants[i]
		f.Ln(2)
		w.font("B", 10)
		f.CellFormat(contentW, lineH, w.tr(strings.TrimSpace(fmt.Sprintf("%d. %s", i+1, v.Gene.Symbol)+suffix(" (", v.Gene.HGNCID, ")"))), "", 1, "L", false, 0, "")
		kinds := []string{gateway.VariantTypeNames[v.Type]}
		for _, c := range []*gateway.Coding{v.Category, v.ChangeType, v.AminoAcidChangeType} {
			if c != nil {
				kinds = append(kinds, c.Text())
			}
		}
		w.field("Type", strings.Join(nonEmpty(kinds...), "; "))
		w.field("Laboratory's name", v.DisplayName)
		if v.Method != nil {
			w.field("Method", v.Method.Text())
		}
		w.field("Transcript", v.Transcript)
		w.field("cDNA (c.)", v.HGVS.C)
		w.field("Protein (p.)", v.HGVS.P)
		w.field("Genomic (g.)", v.HGVS.G)
		w.field("ISCN", v.ISCN)
		pos := v.GenomeBuild
		if v.Chromosome != "" {
			pos = strings.TrimSpace(pos + " chr" + v.Chromosome)
		}
		if v.Start > 0 {
			pos += fmt.Sprintf(":%d", v.Start)
			if v.End > 0 {
				pos += fmt.Sprintf("-%d", v.End)
			}
		}
		if v.Ref != "" || v.Alt != "" {
			pos = strings.TrimSpace(pos + " " + v.Ref + ">" + v.Alt)
		}
		w.field("Position", pos)
		w.field("Genomic reference", v.GenomicReference)
		w.field("Cytogenetic location", v.CytogeneticLocation)
		w.field("Origin", v.Origin)
		w.field("Assessment", v.Assessment)
		if len(v.Identifiers) > 0 {
			var ids []string
			for _, id := range v.Identifiers {
				ids = append(ids, strings.TrimSpace(id.Code+suffix(" ", id.Display)))
			}
			w.field("Database ids", strings.Join(ids, "; "))
		}
		if v.AlleleFrequency != nil {
			w.field("Allele frequency", gateway.FormatPercent(*v.AlleleFrequency))
		}
		if motif, counts := v.Repeats(); len(counts) > 0 {
			w.field("Repeat count", strings.TrimSpace(strings.Join(counts, " and ")+" repeats"+suffix(" of ", motif)))
		}
		if v.CopyNumber != nil {
			w.field("Copy number", fmt.Sprint(*v.CopyNumber))
		}
		if v.HeteroplasmyFraction != nil {
			w.field("Heteroplasmy", gateway.FormatPercent(*v.HeteroplasmyFraction))
		}
		class := classWords[v.Classification.ACMG]
		if len(v.Classification.Criteria) > 0 {
			class += " - ACMG criteria met: " + strings.Join(v.Classification.Criteria, ", ")
		}
		w.field("Classification", class)
		conditions := v.AdditionalConditions
		if v.Condition != nil {
			conditions = append([]gateway.Condition{*v.Condition}, conditions...)
		}
		for _, c := range conditions {
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

// fit shortens s so it fits a table cell; the full value is printed below
// the table. It cuts whole characters, never a UTF-8 sequence.
func fit(w *writer, s string, width float64) string {
	if w.f.GetStringWidth(w.tr(s)) <= width-2 {
		return s
	}
	runes := []rune(s)
	for len(runes) > 0 && w.f.GetStringWidth(w.tr(string(runes)+"...")) > width-2 {
		runes = runes[:len(runes)-1]
	}
	return string(runes) + "..."
}

func orgName(o gateway.Organisation) string {
	if o.Name == "" {
		return o.ODSCode
	}
	return o.Name + " (" + o.ODSCode + ")"
}
