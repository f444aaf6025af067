package httpapi

// capabilityStatement says exactly what the pull API supports.
func capabilityStatement(smart *SMART) map[string]any {
	read := func(typ string, search ...map[string]any) map[string]any {
		r := map[string]any{"type": typ, "interaction": []any{map[string]any{"code": "read"}, map[string]any{"code": "vread"}},
			"versioning": "versioned", "readHistory": false, "conditionalRead": "not-match"}
		if len(search) > 0 {
			r["interaction"] = append(r["interaction"].([]any), map[string]any{"code": "search-type"})
			r["searchParam"] = search
		}
		return r
	}
	param := func(name, typ, doc string) map[string]any {
		return map[string]any{"name": name, "type": typ, "documentation": doc}
	}
	dr := read("DiagnosticReport",
		param("patient.identifier", "token", "NHS number: https://fhir.nhs.uk/Id/nhs-number|<number>"),
		param("patient", "reference", "Patient/<id>"), param("subject", "reference", "Patient/<id>"),
		param("identifier", "token", "the report's business identifier"),
		param("code", "token", "a genomic report's 51969-4, 1054161000000101 or test directory code (R14.1, GT...); another laboratory report's 4241000179101"),
		param("status", "token", "comma-separated statuses"),
		param("date", "date", "DiagnosticReport.effective; prefixes ge, le, gt, lt"),
		param("_lastUpdated", "date", "when the gateway received the version; prefixes ge, le, gt, lt"))
	dr["searchInclude"] = []string{"DiagnosticReport:result", "DiagnosticReport:subject"}
	dr["searchRevInclude"] = []string{"Provenance:target"}
	docs := read("DocumentReference", param("patient.identifier", "token", "NHS number"),
		param("patient", "reference", "Patient/<id>"), param("subject", "reference", "Patient/<id>"),
		param("type", "token", "1054161000000101 (genetic report) or 4241000179101 (laboratory report)"), param("_lastUpdated", "date", "prefixes ge, le, gt, lt"))
	provenance := read("Provenance", param("target", "reference", "DiagnosticReport/<id>: the Provenance of each version of the report the caller may read"))
	audit := map[string]any{"type": "AuditEvent", "interaction": []any{map[string]any{"code": "search-type"}},
		"searchParam": []any{param("entity", "reference", "DiagnosticReport/<id>: the report's journey and every access (operators)")}}
	resources := []any{dr, docs, provenance, audit}
	for _, typ := range []string{"Observation", "Patient", "Specimen", "ServiceRequest", "Binary", "Organization", "Practitioner", "PractitionerRole", "Procedure"} {
		resources = append(resources, read(typ))
	}
	security := map[string]any{"description": "Bearer token: a configured token or a JWT verified against the configured JWKS (SMART Backend Services); SMART system scopes are honoured. Resources of other trusts answer 404.",
		"service": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}}}
	if smart != nil {
		security["extension"] = []any{map[string]any{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": []any{map[string]any{"url": "token", "valueUri": smart.TokenEndpoint}}}}
	}
	return map[string]any{
		"resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-23", "kind": "instance",
		"fhirVersion": "4.0.1", "format": []string{"application/fhir+json", "json"},
		"software":       map[string]any{"name": "Results Gateway"},
		"implementation": map[string]any{"description": "Genomic results pulled by EPRs; each trust sees only the reports it ordered"},
		"rest": []any{map[string]any{
			"mode":        "server",
			"security":    security,
			"resource":    resources,
			"searchParam": []any{param("_count", "number", "1 to 100, default 20"), param("_sort", "string", "-date, date, -_lastUpdated (default), _lastUpdated")},
		}},
	}
}
