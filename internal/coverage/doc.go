// Package coverage holds the test that every fact of a normalised report
// reaches every output the gateway writes: the FHIR Bundle, the PDF and the
// ORU^R01 in each HL7 version it sends. It has no code of its own; the test
// lives here because it needs every mapper and the renderer at once.
package coverage
