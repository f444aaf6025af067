package gateway

// For the external tests that need the fixtures (which import this package).
var (
	DigestAndStoredJSON = digestAndStoredJSON
	WithoutPDFData      = withoutPDFData
)
