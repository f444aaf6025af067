package gateway

import (
	"strconv"
	"strings"
)

// Percent is a fraction (0-1) as a percentage, the decimal point of the
// fraction as written moved two places: 0.07 is 7 and 0.004 is 0.4. A
// float64 multiplication would give 7.000000000000001, which the FHIR
// Bundle and the PDF would then print as if the lab had written it.
func Percent(f float64) float64 {
	mant, exp, ok := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	e, err := strconv.Atoi(exp)
	if !ok || err != nil {
		return f * 100
	}
	p, err := strconv.ParseFloat(mant+"e"+strconv.Itoa(e+2), 64)
	if err != nil {
		return f * 100
	}
	return p
}

// FormatPercent writes a fraction as a percentage with every digit the lab
// gave, none added and none rounded away: 0.004 is "0.4%", 0.125 "12.5%".
func FormatPercent(f float64) string {
	return strconv.FormatFloat(Percent(f), 'f', -1, 64) + "%"
}
