package fhirr4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	prpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/practitioner_go_proto"
	prrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/practitioner_role_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var genders = map[string]c4pb.AdministrativeGenderCode_Value{
	"male": c4pb.AdministrativeGenderCode_MALE, "female": c4pb.AdministrativeGenderCode_FEMALE,
	"other": c4pb.AdministrativeGenderCode_OTHER, "unknown": c4pb.AdministrativeGenderCode_UNKNOWN,
}

func (b *builder) organisations() {
	b.lab = b.organisation("lab", b.r.PerformingLab)
	if b.r.OrderingTrust.ODSCode != "" {
		b.trust = b.organisation("trust", b.r.OrderingTrust)
	}
}

// organisation is identified by its ODS code; a code that is not one (a
// held report's facility name) is kept under the gateway's own system, so
// it is never passed off as an ODS code.
func (b *builder) organisation(key string, o gateway.Organisation) string {
	id := identifier{systemODS, o.ODSCode}
	if !odsShaped.MatchString(o.ODSCode) {
		id.system = b.m.system("organisation")
	}
	org := &orgpb.Organization{Identifier: []*d4pb.Identifier{ident(id.system, id.value)}}
	if o.Name != "" {
		org.Name = str(o.Name)
	}
	return b.conditionalCreate(key, "Organization", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Organization{Organization: org}})
}

var odsShaped = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)

// patientIdentifiers lists the patient's identifiers, the one the EPR
// matches on first: the national number, else the MRN under its authority.
func (b *builder) patientIdentifiers(p gateway.Patient) []identifier {
	var ids []identifier
	for _, n := range []struct{ system, value string }{
		{systemNHSNumber, p.NHSNumber}, {systemCHINumber, p.CHINumber}, {systemHCNumber, p.HCNumber},
	} {
		if n.value != "" {
			ids = append(ids, identifier{n.system, n.value})
		}
	}
	if p.MRN != "" && p.MRNAuthority != "" { // an authority may be a name: escaped, so the system stays a URI
		ids = append(ids, identifier{b.m.system("mrn/" + url.PathEscape(p.MRNAuthority)), p.MRN})
	}
	return ids
}

func (b *builder) patients() {
	p := b.r.Patient
	ids := b.patientIdentifiers(p)
	if len(ids) == 0 { // validation refuses such a report; never panic on one
		ids = []identifier{{b.m.system("unidentified-patient"), b.r.PerformingLab.ODSCode + "-" + b.r.ID}}
	}
	pat := &patpb.Patient{}
	for _, id := range ids {
		pi := ident(id.system, id.value)
		if id.value == p.MRN && id.system != systemNHSNumber && id.system != systemCHINumber && id.system != systemHCNumber {
			pi.Type = concept(systemV20203, "MR", "Medical record number")
			if odsShaped.MatchString(p.MRNAuthority) {
				pi.Assigner = &d4pb.Reference{Identifier: ident(systemODS, p.MRNAuthority)}
			} else {
				pi.Assigner = &d4pb.Reference{Display: str(p.MRNAuthority)}
			}
		}
		pat.Identifier = append(pat.Identifier, pi)
	}
	if p.PedigreeNumber != "" { // the family's number: carried, never matched on
		pat.Identifier = append(pat.Identifier, ident(systemPedigreeNumber, p.PedigreeNumber))
	}
	if p.MRN != "" && p.MRNAuthority == "" { // an MRN nobody vouches for: kept, never matched on
		pat.Identifier = append(pat.Identifier, &d4pb.Identifier{Type: concept(systemV20203, "MR", "Medical record number"), Value: str(p.MRN)})
	}
	if hn := humanName(p.Name); hn != nil {
		pat.Name = []*d4pb.HumanName{hn}
	}
	if g, ok := genders[p.Gender]; ok {
		pat.Gender = &patpb.Patient_GenderCode{Value: g}
	}
	if d := date(p.BirthDate); d != nil {
		pat.BirthDate = d
	}
	if a := p.Address; a != nil {
		addr := &d4pb.Address{}
		for _, l := range a.Lines {
			addr.Line = append(addr.Line, str(l))
		}
		if a.City != "" {
			addr.City = str(a.City)
		}
		if a.District != "" {
			addr.District = str(a.District)
		}
		if a.Postcode != "" {
			addr.PostalCode = str(a.Postcode)
		}
		pat.Address = []*d4pb.Address{addr}
	}
	b.patient = b.conditionalCreate("patient", "Patient", ids[0], patientResource(pat))

	for i, rel := range b.r.Relatives {
		rid := identifier{systemNHSNumber, rel.NHSNumber}
		if rel.NHSNumber == "" {
			rid = identifier{b.m.system("relative"), b.r.PerformingLab.ODSCode + "-" + rel.LabID}
		}
		relPat := &patpb.Patient{Identifier: []*d4pb.Identifier{ident(rid.system, rid.value)}}
		key := "relative-" + rel.Relationship + "-" + itoa(i)
		b.relatives = append(b.relatives, b.conditionalCreate(key, "Patient", rid, patientResource(relPat)))
	}
}

func patientResource(p *patpb.Patient) *r4pb.ContainedResource {
	return &r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Patient{Patient: p}}
}

func humanName(n gateway.Name) *d4pb.HumanName {
	if n.Family == "" && len(n.Given) == 0 {
		return nil
	}
	hn := &d4pb.HumanName{}
	if n.Family != "" {
		hn.Family = str(n.Family)
	}
	for _, g := range n.Given {
		hn.Given = append(hn.Given, str(g))
	}
	if n.Prefix != "" {
		hn.Prefix = []*d4pb.String{str(n.Prefix)}
	}
	return hn
}

// practitioners adds a Practitioner and PractitionerRole per authoriser (the
// report's resultsInterpreter) and one for the requesting clinician if registered.
func (b *builder) practitioners() {
	for i, a := range b.r.Authorisers {
		practitioner := b.practitioner("authoriser-"+itoa(i), a.Name, a.Registration)
		who := a.Registration.Body + "-" + a.Registration.Number
		if a.Registration.Number == "" {
			who = "unregistered-" + nameKey(a.Name)
		}
		roleID := identifier{b.m.system("practitioner-role"), b.r.PerformingLab.ODSCode + "-" + who}
		role := &prrpb.PractitionerRole{
			Identifier:   []*d4pb.Identifier{ident(roleID.system, roleID.value)},
			Practitioner: ref(practitioner, a.Name),
			Organization: ref(b.lab, b.r.PerformingLab.Name),
			Code:         []*d4pb.CodeableConcept{text(a.Role)},
		}
		b.roles = append(b.roles, b.conditionalUpdate("authoriser-role-"+itoa(i), "PractitionerRole", roleID,
			&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_PractitionerRole{PractitionerRole: role}}))
	}
	if c := b.r.RequestingClinician; c != nil && c.Registration != nil {
		b.requester = b.practitioner("requester", c.Name, *c.Registration)
	}
}

func (b *builder) practitioner(key, name string, reg gateway.Registration) string {
	id := identifier{registrationSystems[reg.Body], reg.Number}
	switch {
	case reg.Number == "":
		// No registration given (an HL7 OBR-32 name, a FHIR reference with a
		// display only): the gateway's own identifier, from the lab and the
		// name, so the resource is found again on a resend and two such
		// people are two, never an identifier with an empty value.
		id = identifier{b.m.system("unregistered/" + b.r.PerformingLab.ODSCode), nameKey(name)}
	case reg.Body == "LOCAL": // the lab's own staff number, unique only within the lab
		id = identifier{b.m.system("staff/" + b.r.PerformingLab.ODSCode), reg.Number}
	}
	p := &prpb.Practitioner{
		Identifier: []*d4pb.Identifier{ident(id.system, id.value)},
		Name:       []*d4pb.HumanName{{Text: str(name)}},
	}
	if b.r.IsGenomic() {
		p.Meta = meta(profileNHSEPractitioner) // an identifier and one name: all it requires
	}
	return b.conditionalCreate(key, "Practitioner", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Practitioner{Practitioner: p}})
}

// nameKey is a person's name as an identifier value: a digest, since a
// name holds characters an identifier should not.
func nameKey(name string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.Join(strings.Fields(name), " "))))
	return hex.EncodeToString(sum[:8])
}
