package hubtest

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/hub"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

func init() {
	// Media types the documents name that kin-openapi has no decoder for: read as text.
	openapi3filter.RegisterBodyDecoder("application/jose", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// FetchOpenAPI reads a server's document without a token, checks it is valid OpenAPI 3.0
// (kin-openapi's Validate: structure, references, path parameters, schemas, examples,
// patterns) and answers it loaded.
func FetchOpenAPI(t testing.TB, base string) *openapi3.T {
	t.Helper()
	resp, raw := Request(t, http.MethodGet, base+"/openapi.json", "", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json without a token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if doc.OpenAPI != hub.OpenAPIVersion {
		t.Errorf("openapi = %q, want %q", doc.OpenAPI, hub.OpenAPIVersion)
	}
	return doc
}

var (
	echoParam    = regexp.MustCompile(`:([a-z_]+)`)
	echoWildcard = regexp.MustCompile(`/\*$`)
)

// CheckDocumentedRoutes compares the routes a server registers (echo's ":id") with the
// operations its document lists ("{id}"), both ways, and checks that each documented
// operation has a summary, a default problem answer and says who may call it.
func CheckDocumentedRoutes(t testing.TB, registered []string, doc *openapi3.T) {
	t.Helper()
	if len(registered) == 0 {
		t.Fatal("the server lists no routes")
	}
	var reg []string
	for _, r := range registered {
		// echo's ":id" is OpenAPI's "{id}"; a trailing wildcard ("/ui/*") is "{path}".
		reg = append(reg, echoWildcard.ReplaceAllString(echoParam.ReplaceAllString(r, "{$1}"), "/{path}"))
	}
	if !slices.Contains(reg, "GET /openapi.json") {
		t.Error("GET /openapi.json is not registered")
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented = append(documented, method+" "+path)
			roles, ok := op.Extensions["x-alliancehub-roles"]
			if !ok || !strings.Contains(op.Description, "Roles: ") && !strings.Contains(op.Description, "No token needed.") {
				t.Errorf("%s %s does not say who may call it (x-alliancehub-roles %v)", method, path, roles)
			}
			if op.Responses.Default() == nil || op.Summary == "" {
				t.Errorf("%s %s has no summary or no default problem answer", method, path)
			}
		}
	}
	for _, r := range reg {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered but missing from /openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(reg, d) {
			t.Errorf("/openapi.json documents %s, which the server does not register", d)
		}
	}
}
