package schema_test

import (
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

// TestDefuseCell: every CSV export (the roster, a node's Alliances) writes a cell a
// spreadsheet would run as a formula with a leading apostrophe (OWASP "CSV injection").
func TestDefuseCell(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Nevada Contractors Association", "Nevada Contractors Association"},
		{"", ""},
		{"2024-05-14", "2024-05-14"},
		{`=HYPERLINK("http://x","click")`, `'=HYPERLINK("http://x","click")`},
		{"+1 555", "'+1 555"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"'=already", "''=already"}, // stays reversible on import
	}
	for _, tc := range cases {
		if got := schema.DefuseCell(tc.in); got != tc.want {
			t.Errorf("DefuseCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
