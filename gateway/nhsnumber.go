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
