package fhirr4

import (
	"regexp"
	"strings"
)

// ucumUnits are the units UK laboratories write and their UCUM codes.
var ucumUnits = map[string]string{
	"g/l": "g/L", "mg/l": "mg/L", "ug/l": "ug/L", "µg/l": "ug/L", "ng/l": "ng/L", "mmol/l": "mmol/L", "umol/l": "umol/L",
	"µmol/l": "umol/L", "nmol/l": "nmol/L", "pmol/l": "pmol/L", "mmol/mol": "mmol/mol", "mol/l": "mol/L",
	"iu/l": "[IU]/L", "u/l": "U/L", "miu/l": "m[IU]/L", "mu/l": "mU/L", "iu/ml": "[IU]/mL", "ku/l": "kU/L",
	"fl": "fL", "pg": "pg", "%": "%", "l/l": "L/L", "ml/min": "mL/min", "ml/min/1.73m2": "mL/min/{1.73_m2}",
	"mg/mmol": "mg/mmol", "g/dl": "g/dL", "mg/dl": "mg/dL", "mm/hr": "mm/h", "mm/h": "mm/h", "s": "s", "sec": "s",
	"ratio": "{ratio}", "copies/ml": "{copies}/mL", "cells/ul": "/uL", "kg": "kg", "cm": "cm", "mmhg": "mm[Hg]",
	"copies": "{copies}", "1": "1",
}

var powerOfTen = regexp.MustCompile(`^x?10\^?\*?(\d{1,2})/(l|ul|ml)$`)

// UCUM returns the UCUM code for a unit as a lab wrote it ("x10^9/L",
// "mmol/L", "g/L"), and false when the gateway does not know it (the unit
// text is then sent alone, which FHIR allows).
func UCUM(unit string) (string, bool) {
	u := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(unit), " ", ""))
	if u == "" {
		return "", false
	}
	if code, ok := ucumUnits[u]; ok {
		return code, true
	}
	if m := powerOfTen.FindStringSubmatch(u); m != nil {
		return "10*" + m[1] + "/" + map[string]string{"l": "L", "ul": "uL", "ml": "mL"}[m[2]], true
	}
	return "", false
}
