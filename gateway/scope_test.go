package gateway

import "testing"

func TestScopes(t *testing.T) {
	cases := []struct {
		scope    string
		resource string
		access   Access
		want     bool
	}{
		{"system/DiagnosticReport.read", "DiagnosticReport", AccessRead, true},
		{"system/DiagnosticReport.read", "DiagnosticReport", AccessSearch, true},
		{"system/DiagnosticReport.read", "DiagnosticReport", AccessCreate, false},
		{"system/DiagnosticReport.read", "Observation", AccessRead, false},
		{"system/*.read", "Observation", AccessRead, true},
		{"system/*.write", "DiagnosticReport", AccessRead, false}, // write never grants read
		{"system/*.write", "DiagnosticReport", AccessCreate, true},
		{"system/DiagnosticReport.c", "DiagnosticReport", AccessCreate, true},
		{"system/DiagnosticReport.c", "DiagnosticReport", AccessRead, false},
		{"system/DiagnosticReport.rs", "DiagnosticReport", AccessRead, true},
		{"system/DiagnosticReport.s", "DiagnosticReport", AccessRead, false},
		{"system/DiagnosticReport.cruds", "DiagnosticReport", AccessUpdate, true},
		{"system/*.*", "Binary", AccessRead, true},
		{"system/DiagnosticReport.sr", "DiagnosticReport", AccessRead, false}, // letters out of order: not a v2 scope
		{"system/DiagnosticReport.rr", "DiagnosticReport", AccessRead, false},
		{"system/DiagnosticReport.rs?category=LAB", "DiagnosticReport", AccessRead, false}, // a restriction the gateway cannot enforce
		{"patient/*.read", "DiagnosticReport", AccessRead, false},
		{"user/*.read", "DiagnosticReport", AccessRead, false},
		{"system/.read", "DiagnosticReport", AccessRead, false},
		{"openid", "DiagnosticReport", AccessRead, false},
	}
	for _, c := range cases {
		p := Principal{Scopes: []string{c.scope}}
		if got := p.Allows(c.resource, c.access); got != c.want {
			t.Errorf("%s allows %s %c = %v, want %v", c.scope, c.resource, c.access, got, c.want)
		}
	}
	if !(Principal{}).Allows("Anything", AccessDelete) {
		t.Error("a principal without scopes is limited by its role alone")
	}
	if !(Principal{Scopes: []string{"patient/*.read", "user/Observation.rs"}}).OnlyUserScopes() ||
		(Principal{Scopes: []string{"patient/*.read", "system/Observation.rs"}}).OnlyUserScopes() {
		t.Error("OnlyUserScopes")
	}
}
