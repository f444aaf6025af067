package hl7v2

import (
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// header reads the sender and the ordering trust. The performing lab is who
// the sender's credentials say, never what MSH-4 claims: MSH-4 is often a
// facility name ("HISTOTRAC", "MFT"), not an ODS code.
func (d *decoder) header(msh *hl7.Segment) {
	// MSH-5/6 address the message to the gateway; the ordering trust is read
	// from the fields configured for it (MSH-6 among them by default).
	d.use(msh, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16, 17, 18)
	d.r.PerformingLab = gateway.Organisation{ODSCode: d.lab, Name: d.o.LabName}
	d.trust(msh)
}

// trust finds the ordering trust in the first configured field that names
// one: an ODS code, directly or through the sender's facility aliases. An
// ordering organisation (ORC-21) that is named but has no code the gateway
// can resolve stops the search: a later, weaker field (MSH-6, the message's
// receiving facility) must not route the report elsewhere. With no code the
// report is held for an operator to route.
func (d *decoder) trust(msh *hl7.Segment) {
	specs := d.o.TrustFields
	if len(specs) == 0 {
		specs = DefaultTrustFields
	}
	obr := d.groups[0].obr
	orc := d.groups[0].orc
	if orc == nil {
		orc = d.m.First("ORC")
	}
	var fallback string
	var fallbackLoc hl7.ErrorLocation
	for _, spec := range specs {
		ref, ok := parseFieldRef(spec)
		if !ok {
			continue
		}
		var s *hl7.Segment
		switch ref.segment {
		case "MSH":
			s = msh
		case "ORC":
			s = orc
		case "OBR":
			s = obr
		default:
			s = d.m.First(ref.segment)
		}
		if s == nil || strings.Trim(s.Field(ref.field), "^&~ ") == "" {
			continue
		}
		d.use(s, ref.field)
		raw := s.Field(ref.field)
		codes, name := d.organisationCodes(ref, raw)
		for _, c := range codes {
			if code := d.alias(c); odsCode.MatchString(code) {
				d.r.OrderingTrust = gateway.Organisation{ODSCode: code, Name: name}
				d.at("orderingTrust.odsCode", s, ref.field, ref.component)
				if ref.segment == "MSH" {
					d.warn("orderingTrust.odsCode", s, ref.field, "the ordering trust %s is read from %s (where the message goes), as no ordering organisation (ORC-21) names it", code, spec)
				}
				return
			}
		}
		if fallback == "" {
			fallback, fallbackLoc = first(append(codes, name)...), d.loc(s, ref.field, ref.component)
		}
		if ref.segment == "ORC" && ref.field == 21 && ref.component == 0 {
			break // the ordering organisation is named but unresolved: never fall through to a weaker field
		}
	}
	d.r.OrderingTrust.ODSCode = strings.ToUpper(fallback)
	d.origins["orderingTrust.odsCode"] = fallbackLoc
	if fallbackLoc.Segment == "" {
		d.origins["orderingTrust.odsCode"] = d.loc(msh, 6, 0)
	}
	d.warnings = append(d.warnings, gateway.Warning{Path: "orderingTrust.odsCode", Source: where(d.origins["orderingTrust.odsCode"]),
		Message: "no ODS code for the ordering trust in " + strings.Join(specs, ", ") + " (" + strconv.Quote(fallback) +
			" names it; a facility alias in the sender's settings can map it): the report is held until an operator routes it"})
}

// authorityWords name who issued a code, never the code itself.
var authorityWords = map[string]bool{"ODS": true, "NHS": true, "L": true, "ISO": true, "DNS": true, "UUID": true}

// organisationCodes lists the codes a trust field may hold, most specific
// first, and the organisation's name. An ordering organisation (XON, ORC-21)
// holds its code in XON-10 (2.5) or XON-3, and some labs put it in XON-6
// (`…^^^^^R0A^^^ODS`); its name (XON-1) counts only through an alias, or when
// it is itself a code. An HD (MSH-6) holds a namespace, then a universal
// id. A component spec (OBR-2.2) names one. Subcomponents: the first.
func (d *decoder) organisationCodes(ref fieldRef, field string) (codes []string, name string) {
	get := func(c int) string {
		v := d.comp(field, c)
		v, _, _ = strings.Cut(v, string(d.m.Delims.Subcomponent))
		return strings.TrimSpace(v)
	}
	add := func(v string) {
		if v != "" && !authorityWords[strings.ToUpper(v)] {
			codes = append(codes, v)
		}
	}
	switch {
	case ref.component > 0:
		add(get(ref.component))
	case ref.segment == "ORC" && ref.field == 21:
		name = get(1)
		for _, c := range []int{10, 3, 6} {
			add(get(c))
		}
		if _, aliased := d.aliased(name); aliased || odsCode.MatchString(name) {
			add(name)
			if odsCode.MatchString(name) {
				name = get(2) // "R0A^Manchester University NHS Foundation Trust"
			}
		}
	case ref.segment == "MSH":
		add(get(1))
		add(get(2))
	default:
		add(get(1))
	}
	return codes, name
}

// alias maps a sender's name for an organisation to its ODS code; a name
// with no alias is returned upper-cased, as ODS codes are written.
func (d *decoder) alias(s string) string {
	if code, ok := d.aliased(s); ok {
		return code
	}
	return strings.ToUpper(strings.TrimSpace(s))
}

func (d *decoder) aliased(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, k := range sortedKeys(d.o.FacilityAliases) {
		if strings.EqualFold(k, s) {
			return d.o.FacilityAliases[k], true
		}
	}
	return "", false
}

// patient reads PID: the national number (NHS, CHI or Health and Care),
// the local MRN with its authority, name, birth date, sex and address.
func (d *decoder) patient() {
	pid := d.m.First("PID")
	p := &d.r.Patient
	d.use(pid, 1)
	d.at("patient", pid, 3, 0)
	d.at("patient.nhsNumber", pid, 3, 1)
	d.at("patient.mrnAuthority", pid, 3, 4)
	p.BirthDate = hlDate(d.val(pid, 7, 1))
	d.at("patient.birthDate", pid, 7, 0)
	for i, rep := range d.m.Repetitions(d.raw(pid, 3)) {
		d.identifier(pid, 3, i, rep)
	}
	field := 2
	if f, ok := parseFieldRef(d.o.NHSNumberField); ok && f.segment == "PID" {
		field = f.field
	}
	for _, f := range []int{field, 2, 19} { // PID-2 and PID-19 carried the NHS number before PID-3 did
		if v := d.val(pid, f, 1); v != "" {
			d.national(pid, f, v, "")
		}
	}
	d.name(pid)
	switch sex := strings.ToUpper(d.val(pid, 8, 1)); sex {
	case "":
	case "M", "F", "O", "U":
		p.Gender = fromSex[sex]
	case "A", "N":
		p.Gender = "other"
	case "MALE", "FEMALE", "OTHER", "UNKNOWN": // the word, as some PAS feeds write it
		p.Gender = strings.ToLower(sex)
		d.warn("patient.gender", pid, 8, "PID-8 %q is a word, not an administrative sex code (M, F, O, U): read as %s", sex, p.Gender)
	default:
		d.warn("patient.gender", pid, 8, "PID-8 %q is not an administrative sex (M, F, O, U): left out", sex)
	}
	d.at("patient.gender", pid, 8, 0)
	d.address(pid)
	if p.MRN != "" && p.MRNAuthority == "" {
		p.MRNAuthority = d.o.MRNAuthority
	}
}

// name reads PID-5. Of its repetitions the legal name (XPN-7 "L") is the
// patient's, else one of no stated type, else the first: a LIMS that
// sends the alias first must not have the alias filed as the name. The
// other repetitions (an alias, a maiden name) are listed, not dropped.
func (d *decoder) name(pid *hl7.Segment) {
	p := &d.r.Patient
	reps := d.m.Repetitions(d.raw(pid, 5))
	chosen := preferredName(d.m, reps)
	for i, rep := range reps {
		if i != chosen && strings.Trim(rep, "^&~ ") != "" {
			d.unmapRep(pid, 5, repetition(i, len(reps)), strings.ToUpper(d.comp(rep, 7)), d.m.Unescape(rep), "a further name ("+nameType(d.comp(rep, 7))+"): only the patient's "+nameType(d.comp(reps[chosen], 7))+" is kept")
		}
	}
	if chosen < 0 {
		return
	}
	name := reps[chosen]
	p.Name.Family = d.comp(name, 1)
	for c := 2; c <= 3; c++ {
		if g := d.comp(name, c); g != "" {
			p.Name.Given = append(p.Name.Given, g)
		}
	}
	p.Name.Prefix = d.comp(name, 5)
	if t := d.comp(name, 4); t != "" { // XPN-4 is a suffix, but titles are often sent there
		if titles[strings.ToLower(strings.TrimSuffix(t, "."))] && p.Name.Prefix == "" {
			p.Name.Prefix = t
		} else {
			d.unmapRep(pid, 5, repetition(chosen, len(reps)), "", t, "name suffix (PID-5.4) not mapped")
		}
	}
	// Family, given, middle, suffix (above), prefix; the type chose it.
	d.unmapComponents(pid, 5, repetition(chosen, len(reps)), name, map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 7: true}, "name components")
}

// preferredName is the index of the repetition to file as the patient's
// name: typed L (legal), else untyped, else the first; -1 for none.
func preferredName(m *hl7.Message, reps []string) int {
	best, rank := -1, 3
	for i, rep := range reps {
		if strings.Trim(rep, "^&~ ") == "" {
			continue
		}
		r := 2
		switch strings.ToUpper(strings.TrimSpace(m.Component(rep, 7))) {
		case "L":
			r = 0
		case "":
			r = 1
		}
		if r < rank {
			best, rank = i, r
		}
	}
	return best
}

// nameType says what an XPN-7 code (HL7 table 0200) is, for the list of
// what was not mapped.
func nameType(code string) string {
	if t, ok := nameTypes[strings.ToUpper(code)]; ok {
		return t
	}
	return "name type " + strconv.Quote(code)
}

var nameTypes = map[string]string{"": "name of no stated type", "L": "legal name", "A": "alias", "B": "name at birth",
	"M": "maiden name", "D": "display name", "N": "nickname", "C": "adopted name", "P": "name of partner/spouse",
	"S": "coded pseudo-name", "T": "indigenous/tribal name", "U": "name of unspecified type", "I": "licensing name"}

// address reads PID-11's first address (street, other designation,
// city, district, postcode); its other components (country, address
// type) and further addresses are listed, not dropped.
func (d *decoder) address(pid *hl7.Segment) {
	reps := d.m.Repetitions(d.raw(pid, 11))
	for i, rep := range reps {
		if strings.Trim(rep, "^&~ ") == "" {
			continue
		}
		if d.r.Patient.Address != nil {
			d.unmapRep(pid, 11, repetition(i, len(reps)), "", d.m.Unescape(rep), "a further address: only the first is kept")
			continue
		}
		a := &gateway.Address{City: d.comp(rep, 3), District: d.comp(rep, 4), Postcode: d.comp(rep, 5)}
		for c := 1; c <= 2; c++ {
			if l := d.comp(rep, c); l != "" {
				a.Lines = append(a.Lines, l)
			}
		}
		d.r.Patient.Address = a
		d.unmapComponents(pid, 11, repetition(i, len(reps)), rep, map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}, "address components (PID-11.6 is the country)")
	}
}

var numberNames = map[string]string{gateway.NumberNHS: "NHS number", gateway.NumberCHI: "CHI number", gateway.NumberHC: "Health and Care number"}

var titles = map[string]bool{"mr": true, "mrs": true, "miss": true, "ms": true, "mx": true, "dr": true, "prof": true, "rev": true, "sir": true, "dame": true, "master": true}

// identifier reads one PID-3 repetition (CX: id, check digit, scheme,
// assigning authority, identifier type).
func (d *decoder) identifier(pid *hl7.Segment, field, i int, rep string) {
	value := strings.TrimSpace(d.m.Unescape(d.m.Component(rep, 1)))
	if value == "" {
		return
	}
	hd := d.m.Component(rep, 4)
	authority := strings.TrimSpace(d.m.Unescape(d.m.Subcomponent(hd, 1)))
	issuer := first(authority, strings.TrimSpace(d.m.Unescape(d.m.Subcomponent(hd, 2)))) // HD-1, else its universal id
	idType := strings.ToUpper(strings.TrimSpace(d.m.Unescape(d.m.Component(rep, 5))))
	upperAuth := strings.ToUpper(authority)
	switch {
	case idType == "NH" || idType == "NHS" || idType == "NHSNMBR" || d.namesNHS(hd):
		d.national(pid, field, value, gateway.NumberNHS)
	case idType == "CHI" || upperAuth == "CHI":
		d.national(pid, field, value, gateway.NumberCHI)
	case idType == "HC" || idType == "HCN" || upperAuth == "HSC" || upperAuth == "H&C" || upperAuth == "HCN":
		d.national(pid, field, value, gateway.NumberHC)
	case idType == "PED" || upperAuth == "PEDIGREE": // the family's number (the gateway's own convention)
		if d.r.Patient.PedigreeNumber == "" {
			d.r.Patient.PedigreeNumber = value
		} else if d.r.Patient.PedigreeNumber != value {
			d.unmap(pid, field, idType, value, "a further pedigree number: only the first is kept")
		}
	case idType == "MR" || idType == "MRN" || idType == "PI" || idType == "PT" || idType == "HOSP":
		d.mrn(pid, field, idType, value, authority)
	case localTypes[idType]:
		// Not in table 0203, but what UK PAS feeds call the hospital number.
		d.warn("patient.mrn", pid, field, "PID-3 repetition %d has identifier type %q, which HL7 table 0203 does not have: read as the hospital's local number (MRN)", i+1, idType)
		d.mrn(pid, field, idType, value, authority)
	case idType == "" && issuer != "":
		// Untyped, but issued by someone other than the NHS (a trust's ODS
		// code, its PAS): its local number, however much it looks like an
		// NHS number. Ten digits pass the check digit one time in eleven,
		// and filing a hospital number as an NHS number files the result
		// against whoever holds that NHS number.
		d.warn("patient.mrn", pid, field, "PID-3 repetition %d has no identifier type: kept as a local identifier (MRN) of its assigning authority %s, not as a national number", i+1, issuer)
		d.mrn(pid, field, idType, value, issuer)
	default:
		// A number with no assigning authority and no type this decoder
		// knows: a valid ten-digit number is a national number (which one,
		// by its range); anything else is listed. One whose authority is
		// not the NHS is never guessed to be national.
		n := gateway.NormaliseNHSNumber(value)
		if kind := gateway.ClassifyNationalNumber(n, d.r.Patient.BirthDate); kind != "" && issuer == "" {
			d.warn("patient.nhsNumber", pid, field, "PID-3 repetition %d has identifier type %q: read as a national number because it is ten digits with a valid check digit", i+1, idType)
			d.national(pid, field, value, kind)
			return
		}
		d.unmap(pid, field, idType, value, "identifier type "+strconv.Quote(idType)+" not recognised")
	}
}

// localTypes are identifier types outside HL7 table 0203 that UK systems
// write for a hospital (PAS) number.
var localTypes = map[string]bool{"PAS": true, "HN": true, "HOSPNO": true, "HOSPITAL": true, "LOCAL": true}

// mrn keeps the first local identifier (MRN) with its assigning
// authority, mapped through the sender's facility aliases; a different
// further one is listed.
func (d *decoder) mrn(pid *hl7.Segment, field int, idType, value, authority string) {
	p := &d.r.Patient
	switch {
	case p.MRN == "":
		p.MRN, p.MRNAuthority = value, authority
		if code, ok := d.aliased(authority); ok {
			p.MRNAuthority = code
		}
	case p.MRN != value:
		d.unmap(pid, field, idType, value, "a further local identifier: only the first MRN is kept")
	}
}

// nhsAuthorities are the ways a CX's assigning authority (HD-1 namespace
// or HD-2 universal id) names the NHS number's issuer in England and Wales.
var nhsAuthorities = map[string]bool{"NHS": true, "NHSNBR": true, "NHSNMBR": true, "NHS NUMBER": true,
	"2.16.840.1.113883.2.1.4.1": true, "HTTPS://FHIR.NHS.UK/ID/NHS-NUMBER": true}

// namesNHS reports whether an assigning authority (an HD, as sent) is the
// NHS number's issuer: "NHS", "NHS&2.16.840.1.113883.2.1.4.1&ISO", the OID
// alone, or a name beginning "NHS " ("NHS England").
func (d *decoder) namesNHS(hd string) bool {
	for c := 1; c <= 2; c++ {
		v := strings.ToUpper(strings.TrimSpace(d.m.Unescape(d.m.Subcomponent(hd, c))))
		if nhsAuthorities[v] || c == 1 && strings.HasPrefix(v, "NHS ") {
			return true
		}
	}
	return false
}

// national keeps a national number after checking it. kind "" means the
// sender did not say which: it is classified by range.
func (d *decoder) national(pid *hl7.Segment, field int, value, kind string) {
	p := &d.r.Patient
	n := gateway.NormaliseNHSNumber(value)
	if kind == "" {
		kind = gateway.ClassifyNationalNumber(n, p.BirthDate)
	}
	if !gateway.ValidNHSNumber(n) {
		d.warn("patient.nhsNumber", pid, field, "%s is not a valid national number (10 digits with a modulus-11 check digit): not used to identify the patient", where(d.loc(pid, field, 0)))
		d.unmap(pid, field, "", value, "not a valid NHS, CHI or Health and Care number")
		return
	}
	target := map[string]*string{gateway.NumberNHS: &p.NHSNumber, gateway.NumberCHI: &p.CHINumber, gateway.NumberHC: &p.HCNumber}[kind]
	switch {
	case *target == "":
		*target = n
		d.at("patient."+map[string]string{gateway.NumberNHS: "nhsNumber", gateway.NumberCHI: "chiNumber", gateway.NumberHC: "hcNumber"}[kind], pid, field, 1)
	case *target != n:
		// Two numbers of the same kind for one patient: whose result is this?
		d.refusals = append(d.refusals, Refusal{At: d.loc(pid, field, 1), Problem: gateway.Problem{Path: "patient",
			Message: "does not identify one patient: " + where(d.loc(pid, field, 0)) + " holds a different " + numberNames[kind] + " from the one read before it"}})
	}
}
