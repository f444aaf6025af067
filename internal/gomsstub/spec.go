package gomsstub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// SpecFile is the published GOMS OpenAPI, in ../shared/data/goms beside the repository.
const SpecFile = "goms-api-beta-0.5.3.yaml"

// SpecPath finds ../shared/data/goms/<SpecFile> relative to the repository
// root (the folder holding go.mod), and skips the test when it is absent.
func SpecPath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "data", "goms", SpecFile)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have the GOMS OpenAPI at %s: %v", path, err)
		}
		t.Skipf("the GOMS OpenAPI is not here (%s): these tests need ../shared/data/goms beside the repository", path)
	}
	return path
}

// loadSpec loads the OpenAPI and makes the few corrections that the
// published v0.5.3 document needs to describe the API it documents. Each
// is explicit and narrow; nothing else is relaxed, and every request and
// response is still validated against the document.
func loadSpec(path, serverURL string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	// 1. The document fails kin-openapi's validation only on examples:
	//    parameters _count and _getpagesoffset are type string with the
	//    example 20 (a number). Examples are documentation; validate the
	//    rest (schemas, parameters, references) in full.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("the GOMS OpenAPI is invalid beyond its examples: %w", err)
	}
	// 2. Routes are matched against the stand-in, not NHS England's hosts.
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	// 3. The transaction's 200 response schema describes an OperationOutcome
	//    (resourceType enum [OperationOutcome], issue minItems 1), while its
	//    own examples, NHS England's IG (Bundle-TransactionResponse*-Example)
	//    and FHIR all answer a transaction with a transaction-response Bundle.
	//    A correct answer would fail the published schema, so it is replaced
	//    with one written from those examples.
	tr := doc.Components.Responses["200-goms-bundle-service-request-post"]
	if tr == nil || tr.Value == nil || tr.Value.Content.Get("application/fhir+json") == nil {
		return nil, fmt.Errorf("the GOMS OpenAPI no longer has the transaction response this stand-in corrects: review loadSpec")
	}
	tr.Value.Content.Get("application/fhir+json").Schema = openapi3.NewSchemaRef("", transactionResponseSchema())
	// 4. Operations document 200 and 4XX only, but the document's "Errors"
	//    section says 500 to 599 mean a server error; those answers use the
	//    same OperationOutcome as 4XX. With that said, an undocumented status
	//    fails validation (IncludeResponseStatus).
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Responses != nil && op.Responses.Value("4XX") != nil && op.Responses.Value("5XX") == nil {
				op.Responses.Set("5XX", op.Responses.Value("4XX"))
			}
		}
	}
	return doc, nil
}

func transactionResponseSchema() *openapi3.Schema {
	str := openapi3.NewStringSchema
	response := openapi3.NewObjectSchema().
		WithProperty("status", str().WithPattern(`^[1-5][0-9][0-9]( .*)?$`)).
		WithProperty("location", str()).
		WithProperty("etag", str()).
		WithProperty("lastModified", str()).
		WithProperty("outcome", openapi3.NewObjectSchema().WithProperty("resourceType", str().WithEnum("OperationOutcome")))
	response.Required = []string{"status"}
	entry := openapi3.NewObjectSchema().WithProperty("fullUrl", str()).WithProperty("response", response)
	entry.Required = []string{"response"}
	s := openapi3.NewObjectSchema().
		WithProperty("resourceType", str().WithEnum("Bundle")).
		WithProperty("type", str().WithEnum("transaction-response")).
		WithProperty("entry", openapi3.NewArraySchema().WithItems(entry).WithMinItems(1))
	s.Required = []string{"resourceType", "type", "entry"}
	return s
}
