// Package fhirjson holds small helpers for FHIR resources decoded with
// encoding/json into generic maps.
package fhirjson

// RewriteReferences replaces every Reference.reference found in refs (for
// example a Bundle's urn:uuid fullUrls) with its mapped value (Type/id).
func RewriteReferences(node any, refs map[string]string) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "reference" {
				if to, ok := refs[s]; ok {
					n[k] = to
				}
				continue
			}
			RewriteReferences(v, refs)
		}
	case []any:
		for _, v := range n {
			RewriteReferences(v, refs)
		}
	}
}
