// Package fhirjson holds small helpers for FHIR resources decoded with
// encoding/json into generic maps.
package fhirjson

// RewriteReferences replaces every Reference.reference and Attachment.url
// found in refs (a Bundle's urn:uuid fullUrls) with its mapped value
// (Type/id), as a FHIR server does when it processes a transaction. Only
// values in refs change, so an extension's or a coding's url is left alone.
func RewriteReferences(node any, refs map[string]string) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && (k == "reference" || k == "url") {
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
