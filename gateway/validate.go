package gateway

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Syntax rules. HGVS checks are syntactic only: the reference sequence must be
// a versioned RefSeq (or LRG/Ensembl transcript) and the change well formed.
var (
	reportIDPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	odsPattern        = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)
	testCodePattern   = regexp.MustCompile(`^(R\d{1,4}(\.\d{1,2})?|GT\d{1,5}|TP\d{1,5})$`)
	hgncPattern       = regexp.MustCompile(`^HGNC:\d{1,6}$`)
	symbolPattern     = regexp.MustCompile(`^[A-Z0-9][A-Za-z0-9-]{0,19}$`)
	panelIDPattern    = regexp.MustCompile(`^\d{1,7}$`)
	versionPattern    = regexp.MustCompile(`^\d{1,4}(\.\d{1,4}){0,2}$`)
	allelePattern     = regexp.MustCompile(`^[ACGTN]{1,1000}$`)
	criterionPattern  = regexp.MustCompile(`^(PVS1|PS[1-4]|PM[1-6]|PP[1-5]|BA1|BS[1-4]|BP[1-7])(_(VeryStrong|Strong|Moderate|Supporting))?$`)
	transcriptPattern = regexp.MustCompile(`^(NM_\d+\.\d+|NR_\d+\.\d+|ENST\d+\.\d+|LRG_\d+t\d+)$`)
	chromosomePattern = regexp.MustCompile(`^([1-9]|1\d|2[0-2]|X|Y|MT)$`)

	hgvsPos    = `[-*]?\d+([+-]\d+)?`
	hgvsChange = `([ACGTN]>[ACGTN]|del[ACGTN]*|dup[ACGTN]*|ins[ACGTN]+|delins[ACGTN]+|inv|=|\[\d+\])`
	hgvsC      = regexp.MustCompile(`^(NM_\d+\.\d+|NR_\d+\.\d+|ENST\d+\.\d+|LRG_\d+t\d+):c\.` + hgvsPos + `(_` + hgvsPos + `)?` + hgvsChange + `$`)
	gRange     = `(\d+|\(\?_\d+\)|\(\d+_\?\)|\(\d+_\d+\)|\?)`
	hgvsG      = regexp.MustCompile(`^NC_\d+\.\d+:[gm]\.` + gRange + `(_` + gRange + `)?` + hgvsChange + `$`)
	hgvsP      = regexp.MustCompile(`^(NP_\d+\.\d+:)?p\.(\(([A-Z][a-z]{2}\d+[A-Za-z0-9*_?]*|=|\?)\)|[A-Z][a-z]{2}\d+[A-Za-z0-9*_?]*|=|\?|0)$`)
)

// Validate checks every rule and returns every problem found, each located by
// its JSON path, so a lab can fix all of them in one round. An empty result
// means the report may be accepted.
func Validate(r *Report) []Problem {
	v := &validator{}
	v.report(r, false)
	return v.problems
}

// ValidateVersionless is Validate for senders that number no versions (HL7
// v2): version 0 means "let the store assign it".
func ValidateVersionless(r *Report) []Problem {
	v := &validator{}
	v.report(r, true)
	return v.problems
}

type validator struct{ problems []Problem }

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) required(path, value string) bool {
	if strings.TrimSpace(value) == "" {
		v.add(path, "is required")
		return false
	}
	return true
}

func (v *validator) oneOf(path, value string, vocab Vocab) {
	if v.required(path, value) && !vocab.Has(value) {
		v.add(path, "%q is not one of the allowed values", value)
	}
}

func (v *validator) match(path, value string, re *regexp.Regexp, what string) bool {
	if !v.required(path, value) {
		return false
	}
	if !re.MatchString(value) {
		v.add(path, "%q is not a valid %s", value, what)
		return false
	}
	return true
}

// dateTime parses an RFC 3339 timestamp; a bare date is accepted when dateOnly is allowed.
func (v *validator) dateTime(path, value string, dateOK bool) (time.Time, bool) {
	if !v.required(path, value) {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, true
	}
	if dateOK {
		if t, err := time.Parse(time.DateOnly, value); err == nil {
			return t, true
		}
		v.add(path, "%q is not a date (YYYY-MM-DD) or RFC 3339 date-time", value)
	} else {
		v.add(path, "%q is not an RFC 3339 date-time with a time zone", value)
	}
	return time.Time{}, false
}

func (v *validator) report(r *Report, versionless bool) {
	if r.SchemaVersion != SchemaVersion {
		v.add("schemaVersion", "must be %d, got %d", SchemaVersion, r.SchemaVersion)
	}
	v.match("id", r.ID, reportIDPattern, "report id (1-64 letters, digits, '.', '_' or '-')")
	if r.Version < 0 || (r.Version == 0 && !versionless) {
		v.add("version", "must be 1 or more, got %d", r.Version)
	}
	v.oneOf("status", string(r.Status), Statuses)
	if r.Version > 1 && r.Status == StatusFinal && !versionless {
		v.add("status", "version %d of a report must be amended, corrected or entered-in-error, not final", r.Version)
	}
	issued, issuedOK := v.dateTime("issued", r.Issued, false)
	v.match("performingLab.odsCode", r.PerformingLab.ODSCode, odsPattern, "ODS code")
	v.match("orderingTrust.odsCode", r.OrderingTrust.ODSCode, odsPattern, "ODS code")
	if c := r.RequestingClinician; c != nil {
		v.required("requestingClinician.name", c.Name)
		if c.Registration != nil {
			v.registration("requestingClinician.registration", *c.Registration)
		}
	}
	v.patient(r.Patient, issued, issuedOK)
	v.test(r.Test)
	v.specimens(r.Specimens, issued, issuedOK)
	v.relatives(r.Relatives)
	v.result(r)
	genes := map[string]string{} // HGNC id -> symbol, to catch a symbol that disagrees with its id
	for i, p := range r.Test.Panels {
		for j, g := range p.Genes {
			v.gene(fmt.Sprintf("test.panels[%d].genes[%d]", i, j), g, genes)
		}
	}
	ids := map[string]bool{}
	for i := range r.Variants {
		v.variant(fmt.Sprintf("variants[%d]", i), &r.Variants[i], ids, genes)
	}
	if len(r.Authorisers) == 0 && !r.Unstructured {
		v.add("authorisers", "at least one authoriser is required")
	}
	for i, a := range r.Authorisers {
		p := fmt.Sprintf("authorisers[%d]", i)
		v.required(p+".name", a.Name)
		v.required(p+".role", a.Role)
		v.registration(p+".registration", a.Registration)
		if at, ok := v.dateTime(p+".authorisedAt", a.AuthorisedAt, false); ok && issuedOK && at.After(issued) {
			v.add(p+".authorisedAt", "is after the report was issued (%s)", r.Issued)
		}
	}
	if r.PDF != nil && !bytes.HasPrefix(r.PDF.Data, []byte("%PDF-")) {
		v.add("pdf.data", "is not a PDF (base64 of a file starting %%PDF-)")
	}
}

func (v *validator) registration(path string, reg Registration) {
	v.oneOf(path+".body", reg.Body, RegistrationBodies)
	v.required(path+".number", reg.Number)
}

func (v *validator) patient(p Patient, issued time.Time, issuedOK bool) {
	if v.required("patient.nhsNumber", p.NHSNumber) && !ValidNHSNumber(p.NHSNumber) {
		v.add("patient.nhsNumber", "is not a valid NHS number (10 digits with a modulus-11 check digit)")
	}
	v.required("patient.name.family", p.Name.Family)
	if born, ok := v.dateTime("patient.birthDate", p.BirthDate, true); ok {
		if len(p.BirthDate) != len(time.DateOnly) {
			v.add("patient.birthDate", "must be a date (YYYY-MM-DD)")
		} else if issuedOK && born.After(issued) {
			v.add("patient.birthDate", "is after the report was issued")
		}
	}
	v.oneOf("patient.gender", p.Gender, Genders)
}

func (v *validator) test(t Test) {
	v.match("test.code", t.Code, testCodePattern, "National Genomic Test Directory code (R-code such as R14.1, or DGTS GT/TP code)")
	v.required("test.name", t.Name)
	v.oneOf("test.method", t.Method, TestMethods)
	for i, p := range t.Panels {
		path := fmt.Sprintf("test.panels[%d]", i)
		v.match(path+".panelAppId", p.PanelAppID, panelIDPattern, "PanelApp panel id")
		v.required(path+".name", p.Name)
		v.match(path+".version", p.Version, versionPattern, "panel version")
	}
}

func (v *validator) specimens(specimens []Specimen, issued time.Time, issuedOK bool) {
	if len(specimens) == 0 {
		v.add("specimens", "at least one specimen is required")
	}
	seen := map[string]bool{}
	for i, s := range specimens {
		path := fmt.Sprintf("specimens[%d]", i)
		if v.match(path+".id", s.ID, reportIDPattern, "specimen id (1-64 letters, digits, '.', '_' or '-')") {
			if seen[s.ID] {
				v.add(path+".id", "%q is used by another specimen", s.ID)
			}
			seen[s.ID] = true
		}
		v.required(path+".type", s.Type)
		collected, cOK := v.dateTime(path+".collected", s.Collected, true)
		received, rOK := v.dateTime(path+".received", s.Received, true)
		if cOK && rOK && received.Before(collected) {
			v.add(path+".received", "is before the specimen was collected")
		}
		if cOK && issuedOK && issued.Before(collected) {
			v.add("issued", "is before specimens[%d] was collected", i)
		}
		if rOK && issuedOK && issued.Before(received) {
			v.add("issued", "is before specimens[%d] was received", i)
		}
	}
}

func (v *validator) relatives(relatives []Relative) {
	for i, rel := range relatives {
		path := fmt.Sprintf("relatives[%d]", i)
		v.oneOf(path+".relationship", rel.Relationship, Relationships)
		v.oneOf(path+".affected", rel.Affected, AffectedStatuses)
		switch {
		case rel.NHSNumber != "":
			if !ValidNHSNumber(rel.NHSNumber) {
				v.add(path+".nhsNumber", "is not a valid NHS number (10 digits with a modulus-11 check digit)")
			}
		case rel.LabID == "":
			v.add(path, "needs an nhsNumber or a labId")
		}
	}
}

func (v *validator) result(r *Report) {
	if r.Unstructured && r.Result.Outcome == "" {
		v.required("result.conclusion", r.Result.Conclusion)
		if r.PDF == nil {
			v.add("pdf", "an unstructured report must carry the lab's PDF")
		}
		return
	}
	v.oneOf("result.outcome", r.Result.Outcome, Outcomes)
	v.required("result.conclusion", r.Result.Conclusion)
	if r.Result.Outcome == "positive" && len(r.Variants) == 0 {
		v.add("variants", "a positive result must report at least one variant")
	}
}

func (v *validator) gene(path string, g Gene, genes map[string]string) {
	okSym := v.match(path+".symbol", g.Symbol, symbolPattern, "HGNC gene symbol")
	okID := v.match(path+".hgncId", g.HGNCID, hgncPattern, "HGNC id (HGNC:<digits>)")
	if !okSym || !okID {
		return
	}
	if known, ok := genes[g.HGNCID]; ok && known != g.Symbol {
		v.add(path+".symbol", "%q disagrees with %s named %q elsewhere in the report", g.Symbol, g.HGNCID, known)
		return
	}
	genes[g.HGNCID] = g.Symbol
}

func (v *validator) variant(path string, vr *Variant, ids map[string]bool, genes map[string]string) {
	if v.match(path+".id", vr.ID, reportIDPattern, "variant id (1-64 letters, digits, '.', '_' or '-')") {
		if ids[vr.ID] {
			v.add(path+".id", "%q is used by another variant", vr.ID)
		}
		ids[vr.ID] = true
	}
	v.oneOf(path+".type", vr.Type, VariantTypes)
	v.gene(path+".gene", vr.Gene, genes)
	if vr.Transcript != "" && !transcriptPattern.MatchString(vr.Transcript) {
		v.add(path+".transcript", "%q is not a versioned RefSeq, LRG or Ensembl transcript", vr.Transcript)
	}
	if c := vr.HGVS.C; c != "" {
		if !hgvsC.MatchString(c) {
			v.add(path+".hgvs.c", "%q is not valid c. HGVS with a versioned transcript (e.g. NM_000059.4:c.68_69del)", c)
		} else if vr.Transcript != "" && !strings.HasPrefix(c, vr.Transcript+":") {
			v.add(path+".hgvs.c", "is on a different transcript from %q", vr.Transcript)
		}
	}
	if p := vr.HGVS.P; p != "" && !hgvsP.MatchString(p) {
		v.add(path+".hgvs.p", "%q is not valid p. HGVS (e.g. NP_000050.3:p.(Arg1443Ter))", p)
	}
	if g := vr.HGVS.G; g != "" && !hgvsG.MatchString(g) {
		v.add(path+".hgvs.g", "%q is not valid g. or m. HGVS on a versioned NC_ reference", g)
	}
	if vr.IsSequenceVariant() && vr.HGVS.C == "" && vr.HGVS.G == "" {
		v.add(path+".hgvs", "a sequence variant needs a c. or g. HGVS description")
	}
	if (vr.Type == "cnv" || vr.Type == "sv") && vr.HGVS.G == "" && vr.ISCN == "" {
		v.add(path+".hgvs.g", "a copy-number or structural variant needs g. HGVS or an ISCN description")
	}
	if vr.Type == "cnv" && vr.CopyNumber == nil {
		v.add(path+".copyNumber", "is required for a copy-number variant")
	}
	if vr.CopyNumber != nil && *vr.CopyNumber < 0 {
		v.add(path+".copyNumber", "cannot be negative")
	}
	v.oneOf(path+".genomeBuild", vr.GenomeBuild, GenomeBuilds)
	v.match(path+".chromosome", vr.Chromosome, chromosomePattern, "chromosome (1-22, X, Y or MT)")
	if vr.Start < 1 {
		v.add(path+".start", "must be a 1-based position")
	}
	if vr.End != 0 && vr.End < vr.Start {
		v.add(path+".end", "is before start")
	}
	for _, a := range []struct{ name, value string }{{"ref", vr.Ref}, {"alt", vr.Alt}} {
		if a.value != "" && !allelePattern.MatchString(a.value) {
			v.add(path+"."+a.name, "%q is not an allele (A, C, G, T, N)", a.value)
		}
	}
	v.oneOf(path+".zygosity", vr.Zygosity, Zygosities)
	if (vr.Zygosity == "heteroplasmic" || vr.Zygosity == "homoplasmic") && !vr.IsMitochondrial() {
		v.add(path+".zygosity", "%s applies only to mitochondrial variants", vr.Zygosity)
	}
	if f := vr.HeteroplasmyFraction; f != nil && (*f <= 0 || *f > 1 || !vr.IsMitochondrial()) {
		v.add(path+".heteroplasmyFraction", "must be in (0, 1] and only on a mitochondrial variant")
	}
	if vr.Origin != "" && !Origins.Has(vr.Origin) {
		v.add(path+".origin", "%q is not one of the allowed values", vr.Origin)
	}
	if vr.Inheritance != "" && !Inheritances.Has(vr.Inheritance) {
		v.add(path+".inheritance", "%q is not one of the allowed values", vr.Inheritance)
	}
	v.oneOf(path+".classification.acmg", vr.Classification.ACMG, ACMGClasses)
	for j, c := range vr.Classification.Criteria {
		if !criterionPattern.MatchString(c) {
			v.add(fmt.Sprintf("%s.classification.criteria[%d]", path, j), "%q is not an ACMG/ACGS criterion (e.g. PVS1, PM2_Supporting)", c)
		}
	}
	if c := vr.Condition; c != nil {
		v.required(path+".condition.name", c.Name)
		if c.System != "" || c.Code != "" {
			v.oneOf(path+".condition.system", c.System, ConditionSystems)
			v.required(path+".condition.code", c.Code)
		}
		if c.ModeOfInheritance != "" && !ModesOfInheritance.Has(c.ModeOfInheritance) {
			v.add(path+".condition.modeOfInheritance", "%q is not one of the allowed values", c.ModeOfInheritance)
		}
	}
}
