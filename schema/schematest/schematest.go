// Package schematest loads program catalogs for tests: definitions made in Go are
// written to a file and read the way a server reads --programs, so they pass every check
// a real definitions file does.
package schematest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

// Catalog is the built-in programs plus defs (a slice of program definitions, as
// docs/PROGRAMS.md describes them), loaded from a file in tb's temporary directory.
func Catalog(tb testing.TB, defs any) *schema.Catalog {
	tb.Helper()
	raw, err := json.Marshal(defs)
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "programs.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	cat, err := schema.LoadCatalog(file)
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}
