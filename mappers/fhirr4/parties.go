package fhirr4

import (
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
	b.trust = b.organisation("trust", b.r.OrderingTrust)
}

func (b *builder) organisation(key string, o gateway.Organisation) string {
	id := identifier{systemODS, o.ODSCode}
	org := &orgpb.Organization{Identifier: []*d4pb.Identifier{ident(id.system, id.value)}}
	if o.Name != "" {
		org.Name = str(o.Name)
	}
	return b.conditionalCreate(key, "Organization", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Organization{Organization: org}})
}

func (b *builder) patients() {
	p := b.r.Patient
	id := identifier{systemNHSNumber, p.NHSNumber}
	pat := &patpb.Patient{
		Identifier: []*d4pb.Identifier{ident(id.system, id.value)},
		Name:       []*d4pb.HumanName{humanName(p.Name)},
		Gender:     &patpb.Patient_GenderCode{Value: genders[p.Gender]},
		BirthDate:  date(p.BirthDate),
	}
	if p.MRN != "" {
		mrn := &d4pb.Identifier{
			Type:     concept(systemV20203, "MR", "Medical record number"),
			Value:    str(p.MRN),
			Assigner: &d4pb.Reference{Identifier: ident(systemODS, b.r.OrderingTrust.ODSCode)},
		}
		pat.Identifier = append(pat.Identifier, mrn)
	}
	b.patient = b.conditionalCreate("patient", "Patient", id, patientResource(pat))

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
	hn := &d4pb.HumanName{Family: str(n.Family)}
	for _, g := range n.Given {
		hn.Given = append(hn.Given, str(g))
	}
	return hn
}

// practitioners adds a Practitioner and PractitionerRole per authoriser (the
// report's resultsInterpreter) and one for the requesting clinician if registered.
func (b *builder) practitioners() {
	for i, a := range b.r.Authorisers {
		practitioner := b.practitioner("authoriser-"+itoa(i), a.Name, a.Registration)
		roleID := identifier{b.m.system("practitioner-role"), b.r.PerformingLab.ODSCode + "-" + a.Registration.Body + "-" + a.Registration.Number}
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
	if reg.Body == "LOCAL" { // the lab's own staff number, unique only within the lab
		id = identifier{b.m.system("staff/" + b.r.PerformingLab.ODSCode), reg.Number}
	}
	p := &prpb.Practitioner{
		Identifier: []*d4pb.Identifier{ident(id.system, id.value)},
		Name:       []*d4pb.HumanName{{Text: str(name)}},
	}
	return b.conditionalCreate(key, "Practitioner", id,
		&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Practitioner{Practitioner: p}})
}
