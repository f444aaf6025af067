package fhirr4

import (
	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	fmhpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/family_member_history_go_proto"
)

const (
	systemRoleCode   = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	extPatientRecord = "http://hl7.org/fhir/StructureDefinition/familymemberhistory-patient-record"
)

var relationshipCodes = map[string]answer{
	"mother": {"NMTH", "natural mother"}, "father": {"NFTH", "natural father"},
	"sibling": {"SIB", "sibling"}, "other": {"FAMMEMB", "family member"},
}

var affectedWords = map[string]string{
	"affected": "Affected", "unaffected": "Clinically unaffected", "unknown": "Affected status unknown",
}

// familyEntries records each relative tested with the proband, and whether
// they are affected by the condition tested for, as a FamilyMemberHistory
// (as NHS England's genomics IG does) linked to the relative's own record.
func (b *builder) familyEntries() {
	for i, rel := range b.r.Relatives {
		key := b.r.ID + "-relative-" + itoa(i+1)
		rc := relationshipCodes[rel.Relationship]
		fmh := &fmhpb.FamilyMemberHistory{
			Identifier:   []*d4pb.Identifier{ident(b.m.system("family-member-history"), key)},
			Status:       &fmhpb.FamilyMemberHistory_StatusCode{Value: c4pb.FamilyHistoryStatusCode_COMPLETED},
			Patient:      ref(b.patient, ""),
			Relationship: concept(systemRoleCode, rc.code, rc.display),
			Extension:    []*d4pb.Extension{extension(extPatientRecord, extRef(ref(b.relatives[i], rel.Relationship)))},
			Note:         []*d4pb.Annotation{{Text: &d4pb.Markdown{Value: affectedWords[rel.Affected] + " (tested with the patient)"}}},
		}
		if rc.code == "" {
			fmh.Relationship = text(rel.Relationship)
		}
		if rel.Affected == "affected" {
			condition := "The condition tested for"
			if name := b.testName(); name != "" {
				condition += ": " + name
			}
			fmh.Condition = []*fmhpb.FamilyMemberHistory_Condition{{Code: text(condition)}}
		}
		b.conditionalUpdate("family-"+itoa(i), "FamilyMemberHistory", identifier{b.m.system("family-member-history"), key},
			&r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_FamilyMemberHistory{FamilyMemberHistory: fmh}})
	}
}

// testName is the test's official name, else the lab's.
func (b *builder) testName() string {
	if b.r.Test.DirectoryName != "" {
		return b.r.Test.DirectoryName
	}
	return b.r.Test.Name
}
