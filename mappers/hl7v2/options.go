package hl7v2

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// SenderOptions are how one lab's messages are read: each LIMS puts things
// in its own places. The zero value reads the conventions UK labs use.
type SenderOptions struct {
	// NHSNumberField names where the NHS number is when it is not a PID-3
	// repetition typed NH or with authority NHS, e.g. "PID-2" or "PID-4".
	NHSNumberField string `json:"nhsNumberField,omitempty"`
	// RejectUnmapped answers AE when any content cannot be mapped, instead
	// of accepting the report and listing what was not mapped.
	RejectUnmapped bool `json:"rejectUnmapped,omitempty"`
	// TrustFields are where the ordering trust's ODS code is, tried in
	// order: "ORC-21" (an organisation, XON), or a component such as
	// "OBR-2.2". Default: ORC-21, OBR-2.2, ORC-2.2, MSH-6.
	TrustFields []string `json:"trustFields,omitempty"`
	// FacilityAliases turn a sender's names for trusts into ODS codes, e.g. {"MFT": "R0A"}.
	FacilityAliases map[string]string `json:"facilityAliases,omitempty"`
	// TestCodes map the lab's local test codes (OBR-4) to Genomic Test
	// Directory codes, e.g. {"SANGER": "R240.1"}, for messages that carry
	// the directory code nowhere else.
	TestCodes map[string]string `json:"testCodes,omitempty"`
	// MRNAuthority is the ODS code of the organisation that issued the MRNs
	// this sender sends without an assigning authority.
	MRNAuthority string `json:"mrnAuthority,omitempty"`
	// ReportKind forces "genomic" or "laboratory"; empty decides per message
	// (laboratory when it has measured results and no genomic content).
	ReportKind string `json:"reportKind,omitempty"`
	// LabName is the performing laboratory's name, for the outputs.
	LabName string `json:"labName,omitempty"`
	// GMSOrderNumbers says the placer order numbers (ORC-2/OBR-2) this
	// sender writes are the Genomic Medicine Service's order numbers. By
	// default they are the ordering EPR's own, unless the EI names NHS
	// England's GMSOrder system (EI-3), as the gateway's own ORUs do.
	GMSOrderNumbers bool `json:"gmsOrderNumbers,omitempty"`
}

// DefaultTrustFields are where UK messages carry the ordering trust.
var DefaultTrustFields = []string{"ORC-21", "OBR-2.2", "ORC-2.2", "MSH-6"}

var (
	fieldSpec    = regexp.MustCompile(`^(MSH|PID|PV1|PV2|ORC|OBR)-(\d{1,2})(\.(\d{1,2}))?$`)
	odsCode      = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)
	testCodeSpec = regexp.MustCompile(`^([RM]\d{1,4}(\.\d{1,2})?|GT\d{1,5}|TP\d{1,5})$`)
)

// Check returns every mistake in the options at once, each naming its key.
func (o SenderOptions) Check() error {
	var errs []error
	if f := o.NHSNumberField; f != "" {
		if m := fieldSpec.FindStringSubmatch(f); m == nil || m[1] != "PID" || m[3] != "" {
			errs = append(errs, fmt.Errorf("nhsNumberField: %q is not a PID field such as PID-2", f))
		}
	}
	for i, f := range o.TrustFields {
		if fieldSpec.FindStringSubmatch(f) == nil {
			errs = append(errs, fmt.Errorf("trustFields[%d]: %q is not a field such as ORC-21 or a component such as OBR-2.2 (MSH, PID, PV1, PV2, ORC or OBR)", i, f))
		}
	}
	for _, k := range sortedKeys(o.FacilityAliases) {
		if !odsCode.MatchString(o.FacilityAliases[k]) {
			errs = append(errs, fmt.Errorf("facilityAliases[%q]: %q is not an ODS code", k, o.FacilityAliases[k]))
		}
	}
	for _, k := range sortedKeys(o.TestCodes) {
		if !testCodeSpec.MatchString(o.TestCodes[k]) {
			errs = append(errs, fmt.Errorf("testCodes[%q]: %q is not a Genomic Test Directory code (R- or M-code, or GT/TP)", k, o.TestCodes[k]))
		}
	}
	if o.MRNAuthority != "" && !odsCode.MatchString(o.MRNAuthority) {
		errs = append(errs, fmt.Errorf("mrnAuthority: %q is not an ODS code", o.MRNAuthority))
	}
	if o.ReportKind != "" && !gateway.ReportKinds.Has(o.ReportKind) {
		errs = append(errs, fmt.Errorf("reportKind: %q is not genomic or laboratory", o.ReportKind))
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldRef is a parsed field spec such as ORC-21 or OBR-2.2.
type fieldRef struct {
	segment          string
	field, component int
}

func parseFieldRef(spec string) (fieldRef, bool) {
	m := fieldSpec.FindStringSubmatch(strings.TrimSpace(spec))
	if m == nil {
		return fieldRef{}, false
	}
	f, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[4])
	return fieldRef{m[1], f, c}, true
}
