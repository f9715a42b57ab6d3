package hub

import "testing"

func TestCSVCell(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Nevada Contractors Association", "Nevada Contractors Association"},
		{"", ""},
		{"2024-05-14", "2024-05-14"},
		{`=HYPERLINK("http://x","click")`, `'=HYPERLINK("http://x","click")`},
		{"+1 555", "'+1 555"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
	}
	for _, tc := range cases {
		if got := csvCell(tc.in); got != tc.want {
			t.Errorf("csvCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
