package gateway

import "strings"

// NormaliseNHSNumber removes the spaces and dashes people write NHS numbers with.
func NormaliseNHSNumber(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(s)
}

// ValidNHSNumber reports whether s is ten digits with a valid modulus-11
// check digit (NHS Connecting for Health algorithm: weights 10..2, 11 → 0, 10 invalid).
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if i < 9 {
			sum += int(s[i]-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return int(s[9]-'0') == check
}

// The UK's three national patient numbers share the NHS number's format and
// modulus-11 check digit; they differ by range. CHI numbers (Scotland) start
// with the patient's date of birth as DDMMYY; Health and Care numbers
// (Northern Ireland) run from 320 000 0010 to 399 999 9999; NHS numbers are
// issued from 400 000 000 and 600 000 000 to 799 999 999, and 9xx is the test range.
const (
	NumberNHS = "nhs" // England, Wales and the Isle of Man
	NumberCHI = "chi" // Scotland
	NumberHC  = "hc"  // Northern Ireland
)

// ClassifyNationalNumber says which national number a valid ten-digit
// number is when the sender did not say: a Health and Care number by its
// range, a CHI number when it starts with the birth date (YYYY-MM-DD) as
// DDMMYY, otherwise an NHS number. "" when the number is not valid at all.
func ClassifyNationalNumber(n, birthDate string) string {
	if !ValidNHSNumber(n) {
		return ""
	}
	switch {
	case n >= "3200000010" && n <= "3999999999":
		return NumberHC
	case len(birthDate) == 10 && n[:6] == birthDate[8:10]+birthDate[5:7]+birthDate[2:4]:
		return NumberCHI
	}
	return NumberNHS
}

// Identified reports whether the patient can be filed safely: a national
// number with a valid check digit, or a local MRN with the authority that
// issued it (an MRN alone could belong to anyone in another hospital).
func (p Patient) Identified() bool {
	for _, n := range []string{p.NHSNumber, p.CHINumber, p.HCNumber} {
		if n != "" && ValidNHSNumber(n) {
			return true
		}
	}
	return p.MRN != "" && p.MRNAuthority != ""
}
