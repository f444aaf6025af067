package fhirr4

import (
	"fmt"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// organisation reads an Organization (or the organisation a
// PractitionerRole works for, or a reference's identifier) as an ODS-coded
// organisation.
func (d *fhirDecoder) organisation(ref jnode, within bundleEntry) (gateway.Organisation, string, bool) {
	e, ok := d.resolve(ref, within)
	if !ok {
		if id := ref.obj("identifier"); id.str("system") == systemODS && id.str("value") != "" {
			return gateway.Organisation{ODSCode: id.str("value"), Name: ref.str("display")}, within.path, true
		}
		return gateway.Organisation{}, "", false
	}
	switch e.res.str("resourceType") {
	case "PractitionerRole":
		return d.organisation(e.res.obj("organization"), e)
	case "Organization":
		for _, id := range e.res.list("identifier") {
			if id.str("value") != "" && (id.str("system") == systemODS || strings.HasSuffix(id.str("system"), "/Id/organisation")) {
				return gateway.Organisation{ODSCode: id.str("value"), Name: e.res.str("name")}, e.path, true
			}
		}
	}
	return gateway.Organisation{}, "", false
}

func (d *fhirDecoder) performer(dr bundleEntry) {
	for _, p := range dr.res.list("performer") {
		if org, at, ok := d.organisation(p, dr); ok {
			d.r.PerformingLab = org
			d.at("performingLab", at)
			return
		}
	}
	// The sender is who its credentials say: a report that names no lab is
	// the sender's.
	d.r.PerformingLab = gateway.Organisation{ODSCode: d.lab}
	d.warn("performingLab", dr.path+".performer", "the report names no performing laboratory with an ODS code: read as the sender's, %s", d.lab)
}

func (d *fhirDecoder) requester(sr bundleEntry) {
	req := sr.res.obj("requester")
	if req == nil {
		return
	}
	e, ok := d.resolve(req, sr)
	if !ok {
		if req.str("display") != "" {
			d.r.RequestingClinician = &gateway.Clinician{Name: req.str("display")}
		}
		return
	}
	switch e.res.str("resourceType") {
	case "Organization":
		if org, at, ok := d.organisation(req, sr); ok {
			d.r.OrderingTrust = org
			d.at("orderingTrust", at)
		}
	case "PractitionerRole":
		if org, at, ok := d.organisation(e.res.obj("organization"), e); ok {
			d.r.OrderingTrust = org
			d.at("orderingTrust", at)
		}
		if p, ok := d.resolve(e.res.obj("practitioner"), e); ok {
			d.r.RequestingClinician = d.clinician(p)
		}
	case "Practitioner":
		d.r.RequestingClinician = d.clinician(e)
		if d.r.RequestingClinician.Name == "" {
			d.r.RequestingClinician.Name = req.str("display")
		}
	}
	d.at("requestingClinician", e.path)
}

func (d *fhirDecoder) clinician(p bundleEntry) *gateway.Clinician {
	c := &gateway.Clinician{Name: personName(p.res)}
	if reg, ok := d.registration(p.res); ok {
		c.Registration = &reg
	}
	return c
}

// registration is a practitioner's professional registration, from the
// identifier systems the gateway writes (and the lab's own staff numbers).
func (d *fhirDecoder) registration(p jnode) (gateway.Registration, bool) {
	for _, id := range p.list("identifier") {
		for body, system := range registrationSystems {
			if id.str("system") == system {
				return gateway.Registration{Body: body, Number: id.str("value")}, true
			}
		}
		if strings.Contains(id.str("system"), "/Id/staff/") {
			return gateway.Registration{Body: "LOCAL", Number: id.str("value")}, true
		}
	}
	return gateway.Registration{}, false
}

func personName(p jnode) string {
	for _, n := range p.list("name") {
		if t := n.str("text"); t != "" {
			return t
		}
		parts := append(append(n.strs("prefix"), n.strs("given")...), n.str("family"))
		return strings.TrimSpace(strings.Join(parts, " "))
	}
	return ""
}

// trustFromBundle: without a requesting organisation, the ordering trust
// is the one other ODS-coded organisation in the Bundle, or the assigner
// of the patient's MRN.
func (d *fhirDecoder) trustFromBundle() {
	var others []gateway.Organisation
	var at string
	for i, e := range d.entries {
		if e.res.str("resourceType") != "Organization" {
			continue
		}
		for _, id := range e.res.list("identifier") {
			ods := id.str("system") == systemODS || strings.HasSuffix(id.str("system"), "/Id/organisation")
			if ods && id.str("value") != d.r.PerformingLab.ODSCode {
				others = append(others, gateway.Organisation{ODSCode: id.str("value"), Name: e.res.str("name")})
				at = e.path
				d.used[i] = true
			}
		}
	}
	if len(others) == 1 {
		d.r.OrderingTrust = others[0]
		d.at("orderingTrust", at)
	}
}

func (d *fhirDecoder) subject(dr bundleEntry) {
	subj := dr.res.obj("subject")
	p := &d.r.Patient
	d.at("patient", dr.path+".subject")
	e, ok := d.resolve(subj, dr)
	if !ok {
		// Only an identifier on the reference: enough to file against.
		if id := subj.obj("identifier"); id != nil {
			d.patientIdentifier(id, dr.path+".subject.identifier")
		} else if subj.str("reference") != "" {
			d.missingPatient = true // refused below, with this reason
		}
		return
	}
	d.at("patient", e.path)
	for i, id := range e.res.list("identifier") {
		d.patientIdentifier(id, fmt.Sprintf("%s.identifier[%d]", e.path, i))
	}
	if names := e.res.list("name"); len(names) > 0 {
		n := names[0]
		p.Name = gateway.Name{Family: n.str("family"), Given: n.strs("given")}
		if pre := n.strs("prefix"); len(pre) > 0 {
			p.Name.Prefix = pre[0]
		}
		if p.Name.Family == "" && len(p.Name.Given) == 0 && n.str("text") != "" {
			p.Name.Family = n.str("text")
			d.warn("patient.name", e.path+".name[0]", "the patient's name is only text: kept whole as the family name")
		}
		d.at("patient.name", e.path+".name[0]")
	}
	p.BirthDate = e.res.str("birthDate")
	d.at("patient.birthDate", e.path+".birthDate")
	p.Gender = e.res.str("gender")
	d.at("patient.gender", e.path+".gender")
	if addrs := e.res.list("address"); len(addrs) > 0 {
		a := addrs[0]
		p.Address = &gateway.Address{Lines: a.strs("line"), City: a.str("city"), District: a.str("district"), Postcode: a.str("postalCode")}
	}
	if p.MRN != "" && p.MRNAuthority == "" && d.r.OrderingTrust.ODSCode != "" {
		p.MRNAuthority = d.r.OrderingTrust.ODSCode
	}
}

func (d *fhirDecoder) patientIdentifier(id jnode, at string) {
	p := &d.r.Patient
	system, value := id.str("system"), id.str("value")
	switch {
	case value == "":
	case system == systemNHSNumber:
		p.NHSNumber = d.national(value, at)
		d.at("patient.nhsNumber", at)
	case system == systemCHINumber:
		p.CHINumber = d.national(value, at)
		d.at("patient.chiNumber", at)
	case system == systemHCNumber:
		p.HCNumber = d.national(value, at)
		d.at("patient.hcNumber", at)
	case system == systemPedigreeNumber:
		p.PedigreeNumber = value
	case hasCode(id.obj("type"), systemV20203, "MR") || strings.Contains(system, "/Id/mrn/"):
		if p.MRN != "" {
			d.unmap(at, system, value, "a further medical record number: only the first is kept")
			return
		}
		p.MRN = value
		d.at("patient.mrn", at)
		if a := id.obj("assigner").obj("identifier"); a.str("system") == systemODS {
			p.MRNAuthority = a.str("value")
		} else if a := id.obj("assigner").str("display"); a != "" {
			p.MRNAuthority = a
		} else if i := strings.Index(system, "/Id/mrn/"); i >= 0 {
			p.MRNAuthority = unescapePath(system[i+len("/Id/mrn/"):])
		}
	default:
		d.unmap(at, system, "", "a patient identifier system the gateway does not file under")
	}
}

// national is a national number as its ten digits: written "999 000 2045"
// or with dashes, as on letters and in the gateway's own PDF, it is the
// same number, with a warning.
func (d *fhirDecoder) national(value, at string) string {
	n := gateway.NormaliseNHSNumber(strings.TrimSpace(value))
	if n != value {
		d.warn("patient", at, "the national number is written with spaces or dashes: read without them")
	}
	return n
}
