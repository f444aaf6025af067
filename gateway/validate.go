package gateway

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Syntax rules. HGVS checks are syntactic only: the reference sequence must be
// a versioned RefSeq (or LRG/Ensembl transcript) and the change well formed.
var (
	reportIDPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	odsPattern        = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)
	testCodePattern   = regexp.MustCompile(`^([RM]\d{1,4}(\.\d{1,2})?|GT\d{1,5}|TP\d{1,5})$`)
	hgncPattern       = regexp.MustCompile(`^HGNC:\d{1,6}$`)
	symbolPattern     = regexp.MustCompile(`^[A-Z0-9][A-Za-z0-9-]{0,19}$`)
	panelIDPattern    = regexp.MustCompile(`^\d{1,7}$`)
	versionPattern    = regexp.MustCompile(`^\d{1,4}(\.\d{1,4}){0,2}$`)
	allelePattern     = regexp.MustCompile(`^[ACGTN]{1,1000}$`)
	criterionPattern  = regexp.MustCompile(`^(PVS1|PS[1-4]|PM[1-6]|PP[1-5]|BA1|BS[1-4]|BP[1-7])(_(VeryStrong|Strong|Moderate|Supporting))?$`)
	transcriptPattern = regexp.MustCompile(`^(NM_\d+\.\d+|NR_\d+\.\d+|ENST\d+\.\d+|LRG_\d+t\d+)$`)
	chromosomePattern = regexp.MustCompile(`^([1-9]|1\d|2[0-2]|X|Y|MT)$`)
	repeatPattern     = regexp.MustCompile(`^\d{1,5}(;\d{1,5})?$`)
	decimalPattern    = regexp.MustCompile(`^-?\d+(\.\d+)?$`)

	hgvsPos = `[-*]?\d+([+-]\d+)?`
	// A repeat is written as the repeated unit (optional) and the count of
	// each allele: c.52_54[42], c.52CAG[42], c.52_54CAG[17];[42].
	hgvsChange = `([ACGTN]>[ACGTN]|del[ACGTN]*|dup[ACGTN]*|ins[ACGTN]+|delins[ACGTN]+|inv|=|[ACGTN]*\[\d+\](;\[\d+\])?)`
	hgvsC      = regexp.MustCompile(`^(NM_\d+\.\d+|NR_\d+\.\d+|ENST\d+\.\d+|LRG_\d+t\d+):c\.` + hgvsPos + `(_` + hgvsPos + `)?` + hgvsChange + `$`)
	gRange     = `(\d+|\(\?_\d+\)|\(\d+_\?\)|\(\d+_\d+\)|\?)`
	hgvsG      = regexp.MustCompile(`^NC_\d+\.\d+:[gm]\.` + gRange + `(_` + gRange + `)?` + hgvsChange + `$`)
	hgvsP      = regexp.MustCompile(`^(NP_\d+\.\d+:)?p\.(\(([A-Z][a-z]{2}\d+[A-Za-z0-9*_?]*|=|\?)\)|[A-Z][a-z]{2}\d+[A-Za-z0-9*_?]*|=|\?|0)$`)
)

// Validate checks every rule of the native report and returns every
// problem found, each located by its JSON path, so a lab can fix all of
// them in one round. An empty result means the report may be accepted.
func Validate(r *Report) []Problem {
	v := &validator{}
	v.report(r, false)
	return v.errors(false)
}

// ValidateLenient is validation for senders whose systems the gateway
// cannot change (HL7 v2 labs): only what makes a report unfileable — no
// patient identity, nothing to file, content that cannot be delivered
// safely — refuses it; every other problem is a warning kept on the report.
// Version 0 means "let the store assign it".
func ValidateLenient(r *Report) (refuse []Problem, warnings []Warning) {
	v := &validator{}
	v.report(r, true)
	for _, p := range v.problems {
		switch {
		case p.fatal:
			refuse = append(refuse, p.Problem)
		case !quietInLenient(r, p.Problem):
			warnings = append(warnings, Warning{Path: p.Path, Message: p.Message})
		}
	}
	return refuse, warnings
}

// quietInLenient keeps back warnings that would only be noise to a sender
// whose format has no place for the field (HL7 v2 has no "test method"),
// or whose point another warning makes already.
func quietInLenient(r *Report, p Problem) bool {
	switch {
	case p.Path == "test.method", p.Path == "pdf", p.Path == "authorisers" && r.Unstructured:
		return true // no HL7 v2 field; the gateway renders the PDF; the decoder said who is missing
	case strings.HasPrefix(p.Path, "specimens[") && (strings.HasSuffix(p.Path, ".type") || strings.HasSuffix(p.Path, ".id")):
		return true // ORU^R01 before 2.5 has no place for them
	case strings.HasPrefix(p.Path, "variants[") && strings.HasSuffix(p.Path, ".zygosity"):
		i := 0
		fmt.Sscanf(p.Path, "variants[%d]", &i)
		return i < len(r.Variants) && r.Variants[i].Origin == "somatic" // zygosity is a germline notion
	}
	return false
}

type problem struct {
	Problem
	fatal bool // refuses the report even in lenient mode
}

type validator struct{ problems []problem }

func (v *validator) errors(lenient bool) []Problem {
	out := make([]Problem, 0, len(v.problems))
	for _, p := range v.problems {
		if !lenient || p.fatal {
			out = append(out, p.Problem)
		}
	}
	return out
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, problem{Problem: Problem{Path: path, Message: fmt.Sprintf(format, args...)}})
}

func (v *validator) refuse(path, format string, args ...any) {
	v.problems = append(v.problems, problem{Problem: Problem{Path: path, Message: fmt.Sprintf(format, args...)}, fatal: true})
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

func (v *validator) optionalOneOf(path, value string, vocab Vocab) {
	if value != "" && !vocab.Has(value) {
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

// ParseTime reads an RFC 3339 timestamp or a bare date (YYYY-MM-DD), the
// two forms report times take.
func ParseTime(value string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, value); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// dateTime parses an RFC 3339 timestamp; a bare date is accepted when dateOK.
func (v *validator) dateTime(path, value string, dateOK bool) (time.Time, bool) {
	if !v.required(path, value) {
		return time.Time{}, false
	}
	return v.parseTime(path, value, dateOK)
}

func (v *validator) optionalTime(path, value string, dateOK bool) (time.Time, bool) {
	if value == "" {
		return time.Time{}, false
	}
	return v.parseTime(path, value, dateOK)
}

func (v *validator) parseTime(path, value string, dateOK bool) (time.Time, bool) {
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

func (v *validator) report(r *Report, lenient bool) {
	if r.SchemaVersion != SchemaVersion {
		v.refuse("schemaVersion", "must be %d, got %d", SchemaVersion, r.SchemaVersion)
	}
	if !ValidReportID(r.ID) {
		if r.ID == "" {
			v.refuse("id", "is required")
		} else {
			v.refuse("id", "%q is not a valid report id (1-64 letters, digits, '.', '_' or '-')", r.ID)
		}
	}
	if r.Version < 0 || (r.Version == 0 && !lenient) {
		v.add("version", "must be 1 or more, got %d", r.Version)
	}
	v.optionalOneOf("kind", r.Kind, ReportKinds)
	v.oneOf("status", string(r.Status), Statuses)
	if r.Version > 1 && r.Status == StatusFinal && !lenient {
		v.add("status", "version %d of a report must be amended, corrected or entered-in-error, not final", r.Version)
	}
	issued, issuedOK := v.dateTime("issued", r.Issued, false)
	if !odsPattern.MatchString(r.PerformingLab.ODSCode) {
		v.refuse("performingLab.odsCode", "%q is not a valid ODS code", r.PerformingLab.ODSCode)
	}
	v.match("orderingTrust.odsCode", r.OrderingTrust.ODSCode, odsPattern, "ODS code")
	if c := r.RequestingClinician; c != nil {
		v.required("requestingClinician.name", c.Name)
		if c.Registration != nil {
			v.registration("requestingClinician.registration", *c.Registration)
		}
	}
	for i, o := range r.CopyTo {
		v.match(fmt.Sprintf("copyTo[%d].odsCode", i), o.ODSCode, odsPattern, "ODS code")
	}
	if p := r.Previous; p != nil {
		switch {
		case p.ID == "":
			v.refuse(previousPath, "is required: the report this one re-interprets")
		case !reportIDPattern.MatchString(p.ID):
			v.add(previousPath, "%q is not a valid report id", p.ID)
		case p.ID == r.ID:
			v.add(previousPath, "is this report's own id: a later version of the same report names no previous report")
		}
		v.optionalOneOf("previous.relation", p.Relation, Relations)
		if p.Version < 0 {
			v.add("previous.version", "must be 1 or more, or left out for the latest, got %d", p.Version)
		}
	}
	v.patient(r.Patient, issued, issuedOK)
	v.test(r)
	if r.IsGenomic() {
		v.specimens(r.Specimens, issued, issuedOK)
	} else {
		v.optionalSpecimens(r.Specimens, issued, issuedOK)
	}
	v.relatives(r.Relatives)
	v.result(r)
	genes := geneNames{symbolOf: map[string]string{}, idOf: map[string]string{}}
	for i, p := range r.Test.Panels {
		for j, g := range p.Genes {
			v.gene(fmt.Sprintf("test.panels[%d].genes[%d]", i, j), g, genes)
		}
	}
	for i, g := range r.Test.GenesStudied { // as sent, often without an id: only their agreement is checked
		if symbolPattern.MatchString(g.Symbol) && hgncPattern.MatchString(g.HGNCID) {
			v.genesAgree(fmt.Sprintf("test.genesStudied[%d]", i), g, genes)
		}
	}
	ids := map[string]bool{}
	for i := range r.Variants {
		v.variant(fmt.Sprintf("variants[%d]", i), &r.Variants[i], ids, genes)
	}
	for i := range r.ResultGroups {
		v.group(fmt.Sprintf("resultGroups[%d]", i), &r.ResultGroups[i])
	}
	if len(r.Authorisers) == 0 && !r.Unstructured && r.IsGenomic() {
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
	for i, a := range r.Attachments {
		if len(a.Data) == 0 && a.URL == "" {
			v.add(fmt.Sprintf("attachments[%d]", i), "needs data or a url")
		}
	}
	if !r.HasContent() && !(lenient && r.Withdraws()) { // a lab's withdrawal may name the report alone: intake fills it in
		v.refuse("result", nothingToFile)
	}
	v.framing(r)
}

// partialDate is a date known to the year or month only, as HL7 v2 and
// FHIR allow for a birth date.
var partialDate = regexp.MustCompile(`^\d{4}(-\d{2})?$`)

// nothingToFile is the message of the refusal for a report with no content.
const nothingToFile = "the report carries nothing to file: no result, no text and no PDF"

// FileUnreadable drops the "nothing to file" refusal, for a message that
// did carry a result the gateway could not read (a corrupt PDF, an answer it
// does not know): such a report is filed with what could not be read listed,
// so the record shows a result exists and why it is not there. It returns
// the warning to keep in its place, or nil when there was no such refusal.
func FileUnreadable(problems []Problem) (kept []Problem, warning *Warning) {
	for _, p := range problems {
		if p.Path == "result" && p.Message == nothingToFile {
			warning = &Warning{Path: "result", Message: "nothing in the message could be read as a result: the report is filed " +
				"with what could not be read listed as unmapped; ask the laboratory to resend it"}
			continue
		}
		kept = append(kept, p)
	}
	return kept, warning
}

// Withdraws reports whether r takes a result back: entered in error or
// cancelled.
func (r *Report) Withdraws() bool {
	return r.Status == StatusEnteredInError || r.Status == StatusCancelled
}

// HasResults reports whether r carries results: findings, observations,
// a conclusion or a PDF. Notes alone (a withdrawal's reason) are not.
func (r *Report) HasResults() bool {
	if len(r.Variants) > 0 || r.PDF != nil || len(r.Attachments) > 0 || r.Result.Outcome != "" ||
		strings.TrimSpace(r.Result.Conclusion+r.Result.Interpretation) != "" {
		return true
	}
	for _, g := range r.ResultGroups {
		if len(g.Observations) > 0 {
			return true
		}
	}
	return false
}

// HasContent reports whether there is anything to file: a finding, a
// result, text or a document.
func (r *Report) HasContent() bool {
	if r.HasResults() || len(r.Notes) > 0 {
		return true
	}
	for _, g := range r.ResultGroups {
		if len(g.Notes) > 0 {
			return true
		}
	}
	return false
}

// framing refuses text holding the bytes that frame MLLP messages (VT, FS,
// GS): such a report could never be delivered to an HL7 v2 EPR, and would
// be retried for days as if the EPR were at fault.
func (v *validator) framing(r *Report) {
	if !AnyString(r, hasFraming) {
		return
	}
	WalkStrings(r, func(path, s string) {
		if hasFraming(s) {
			v.refuse(path, "holds a control character (0x0B, 0x1C or 0x1D) that cannot be sent over MLLP")
		}
	})
}

func hasFraming(s string) bool { return strings.ContainsAny(s, "\x0b\x1c\x1d") }

func (v *validator) registration(path string, reg Registration) {
	v.oneOf(path+".body", reg.Body, RegistrationBodies)
	v.required(path+".number", reg.Number)
}

func (v *validator) patient(p Patient, issued time.Time, issuedOK bool) {
	national := false
	for _, n := range []struct{ path, value, what string }{
		{"patient.nhsNumber", p.NHSNumber, "NHS number"},
		{"patient.chiNumber", p.CHINumber, "CHI number"},
		{"patient.hcNumber", p.HCNumber, "Health and Care number"},
	} {
		if n.value == "" {
			continue
		}
		if ValidNHSNumber(n.value) {
			national = true
		} else {
			v.add(n.path, "is not a valid %s (10 digits with a modulus-11 check digit)", n.what)
		}
	}
	switch {
	case !p.Identified():
		path := "patient.nhsNumber"
		if p.NHSNumber == "" && p.MRN != "" {
			path = "patient.mrnAuthority"
		}
		v.refuse(path, "does not identify the patient: a valid NHS, CHI or Health and Care number, or an MRN with its assigning authority, is required")
	case !national && p.MRN != "" && !odsPattern.MatchString(p.MRNAuthority):
		v.add("patient.mrnAuthority", "%q is not an ODS code: the MRN cannot be tied to an organisation", p.MRNAuthority)
	}
	v.required("patient.name.family", p.Name.Family)
	if partialDate.MatchString(p.BirthDate) {
		v.add("patient.birthDate", "%q is a partial date: a year, or a month, only", p.BirthDate)
	} else if born, ok := v.dateTime("patient.birthDate", p.BirthDate, true); ok {
		if len(p.BirthDate) != len(time.DateOnly) {
			v.add("patient.birthDate", "must be a date (YYYY-MM-DD)")
		} else if issuedOK && born.After(issued) {
			v.add("patient.birthDate", "is after the report was issued")
		}
	}
	v.oneOf("patient.gender", p.Gender, Genders)
}

func (v *validator) test(r *Report) {
	t := r.Test
	if r.IsGenomic() {
		v.match("test.code", t.Code, testCodePattern, "National Genomic Test Directory code (R- or M-code such as R14.1, or DGTS GT/TP code)")
		name := t.Name
		if name == "" && t.LocalCode != nil {
			name = t.LocalCode.Display // the lab's own code's name names the test
		}
		v.required("test.name", name)
		v.oneOf("test.method", t.Method, TestMethods)
	} else {
		if t.Code != "" && !testCodePattern.MatchString(t.Code) {
			v.add("test.code", "%q is not a valid National Genomic Test Directory code", t.Code)
		}
		v.optionalOneOf("test.method", t.Method, TestMethods)
	}
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
	v.optionalSpecimens(specimens, issued, issuedOK)
}

func (v *validator) optionalSpecimens(specimens []Specimen, issued time.Time, issuedOK bool) {
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
	if !r.IsGenomic() {
		if len(r.ResultGroups) == 0 {
			v.add("resultGroups", "a laboratory report needs at least one group of results")
		}
		v.optionalOneOf("result.outcome", r.Result.Outcome, Outcomes)
		return
	}
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

func (v *validator) group(path string, g *ResultGroup) {
	if g.Code.Code == "" && g.Code.Display == "" {
		v.add(path+".code", "needs a code or a name")
	}
	v.optionalOneOf(path+".status", string(g.Status), Statuses)
	v.optionalTime(path+".collected", g.Collected, true)
	for i := range g.Observations {
		v.observation(fmt.Sprintf("%s.observations[%d]", path, i), &g.Observations[i])
	}
}

func (v *validator) observation(path string, o *Observation) {
	if o.Code.Code == "" && o.Code.Display == "" {
		v.add(path+".code", "needs a code or a name")
	}
	v.oneOf(path+".valueType", o.ValueType, ValueTypes)
	v.optionalOneOf(path+".comparator", o.Comparator, Comparators)
	v.optionalOneOf(path+".absentReason", o.AbsentReason, AbsentReasons)
	v.optionalOneOf(path+".status", string(o.Status), Statuses)
	v.optionalTime(path+".observed", o.Observed, true)
	if o.AbsentReason != "" {
		return
	}
	switch o.ValueType {
	case ValueQuantity:
		if !decimalPattern.MatchString(o.Value) {
			v.add(path+".value", "%q is not a number", o.Value)
		}
	case ValueRatio, ValueRange:
		sep := map[string]string{ValueRatio: ":", ValueRange: "-"}[o.ValueType]
		a, b, ok := strings.Cut(strings.TrimPrefix(o.Value, "-"), sep)
		if !ok || !decimalPattern.MatchString(a) || !decimalPattern.MatchString(b) {
			v.add(path+".value", "%q is not written as two numbers separated by %q", o.Value, sep)
		}
	case ValueCoded:
		if o.Coded == nil || (o.Coded.Code == "" && o.Coded.Display == "") {
			v.add(path+".coded", "a coded result needs a code or its text")
		}
	case ValueDateTime:
		v.dateTime(path+".value", o.Value, true)
	case ValueText:
		v.required(path+".value", o.Value)
	}
}

func (v *validator) gene(path string, g Gene, genes geneNames) {
	okSym := v.match(path+".symbol", g.Symbol, symbolPattern, "HGNC gene symbol")
	okID := v.match(path+".hgncId", g.HGNCID, hgncPattern, "HGNC id (HGNC:<digits>)")
	if okSym && okID {
		v.genesAgree(path, g, genes)
	}
}

// geneNames are the genes named so far in a report, both ways, to catch a
// symbol and an HGNC id that disagree.
type geneNames struct{ symbolOf, idOf map[string]string }

// genesAgree checks g against the genes named before it in the report: an
// HGNC id has one symbol, a symbol one HGNC id.
func (v *validator) genesAgree(path string, g Gene, genes geneNames) {
	if known, ok := genes.symbolOf[g.HGNCID]; ok && known != g.Symbol {
		v.add(path+".symbol", "%q disagrees with %s named %q elsewhere in the report", g.Symbol, g.HGNCID, known)
		return
	}
	if known, ok := genes.idOf[g.Symbol]; ok && known != g.HGNCID {
		v.add(path+".hgncId", "%s disagrees with %s, the HGNC id %q has elsewhere in the report", g.HGNCID, known, g.Symbol)
		return
	}
	genes.symbolOf[g.HGNCID], genes.idOf[g.Symbol] = g.Symbol, g.HGNCID
}

func (v *validator) variant(path string, vr *Variant, ids map[string]bool, genes geneNames) {
	if v.match(path+".id", vr.ID, reportIDPattern, "variant id (1-64 letters, digits, '.', '_' or '-')") {
		if ids[vr.ID] {
			v.add(path+".id", "%q is used by another variant", vr.ID)
		}
		ids[vr.ID] = true
	}
	v.oneOf(path+".type", vr.Type, VariantTypes)
	v.gene(path+".gene", vr.Gene, genes)
	v.optionalOneOf(path+".assessment", vr.Assessment, Assessments)
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
	if vr.RepeatCount != "" && !repeatPattern.MatchString(vr.RepeatCount) {
		v.add(path+".repeatCount", "%q is not a repeat count (e.g. 42, or 17;42 for both alleles)", vr.RepeatCount)
	}
	v.variantPosition(path, vr)
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
	if f := vr.AlleleFrequency; f != nil && (*f < 0 || *f > 1) {
		v.add(path+".alleleFrequency", "must be a fraction between 0 and 1")
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
		v.condition(path+".condition", *c)
	}
	for j, c := range vr.AdditionalConditions {
		v.condition(path+".additionalConditions["+strconv.Itoa(j)+"]", c)
	}
}

// variantPosition: a genome build, chromosome and start position are
// required unless the variant is described by HGVS on a transcript or
// genomic reference alone, as the LOINC variant convention allows.
func (v *validator) variantPosition(path string, vr *Variant) {
	described := vr.HGVS.C != "" || vr.HGVS.G != "" || vr.ISCN != ""
	if vr.GenomeBuild != "" || !described {
		v.oneOf(path+".genomeBuild", vr.GenomeBuild, GenomeBuilds)
	}
	if vr.Chromosome != "" || !described {
		v.match(path+".chromosome", vr.Chromosome, chromosomePattern, "chromosome (1-22, X, Y or MT)")
	}
	if vr.Start < 0 || (vr.Start == 0 && !described) {
		v.add(path+".start", "must be a 1-based position")
	}
	if vr.End != 0 && vr.End < vr.Start {
		v.add(path+".end", "is before start")
	}
}

func (v *validator) condition(path string, c Condition) {
	v.required(path+".name", c.Name)
	if c.System != "" || c.Code != "" {
		v.oneOf(path+".system", c.System, ConditionSystems)
		v.required(path+".code", c.Code)
	}
	if c.ModeOfInheritance != "" && !ModesOfInheritance.Has(c.ModeOfInheritance) {
		v.add(path+".modeOfInheritance", "%q is not one of the allowed values", c.ModeOfInheritance)
	}
}

// ValidReportID says whether id can be a report's id: 1-64 letters,
// digits, '.', '_' or '-', starting with a letter or digit.
func ValidReportID(id string) bool { return reportIDPattern.MatchString(id) }
