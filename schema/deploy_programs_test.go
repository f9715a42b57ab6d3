package schema_test

import (
	"path/filepath"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

// TestDeployProgramFiles loads the example definitions operators copy from deploy/
// (Cal/OSHA and NCDOL), so a broken example never ships, and checks the rules they
// carry: NCDOL renews an Alliance once (DOMAIN.md, Lifecycle).
func TestDeployProgramFiles(t *testing.T) {
	files, err := filepath.Glob("../deploy/programs/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("deploy/programs: %v files, %v", len(files), err)
	}
	c, err := schema.LoadCatalog(files...)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"CA", "NC"} {
		p, ok := c.Get(code)
		if !ok {
			t.Fatalf("deploy/programs defines no %s", code)
		}
		if _, ok := p.ReportRule(schema.CadenceAnnual); !ok {
			t.Errorf("%s: no annual report rule", code)
		}
	}
	nc, _ := c.Get("NC")
	a := &schema.Alliance{ID: "NC-0123456789abcdef", Participants: []schema.Participant{{Name: "NC Assn"}}, SignedOn: schema.MustDate("2022-03-01")}
	a.Normalize(nc)
	if err := a.Renew(nc, schema.MustDate("2024-03-01"), 0); err != nil {
		t.Fatalf("first renewal: %v", err)
	}
	if err := a.Renew(nc, schema.MustDate("2026-03-01"), 0); err == nil {
		t.Fatal("NCDOL renews once; a second renewal was accepted")
	}
}
