package schema_test

import (
	"slices"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"case and spacing", "  Associated   General Contractors of MICHIGAN ", "associated general contractors of michigan"},
		{"final parenthesis left out", "National Utility Contractors Association (NUCA)", "national utility contractors association"},
		{"other parenthesis left out", "American Society of Safety Professionals (ASSP), Michigan Chapter", "american society of safety professionals michigan chapter"},
		{"Inc. anywhere", "Associated Builders and Contractors, Inc., Pelican Chapter", "associated builders and contractors pelican chapter"},
		{"Incorporated", "Michigan Concrete Association Incorporated", "michigan concrete association"},
		{"Assn. written out", "Nevada Contractors Assn.", "nevada contractors association"},
		{"Ass'n written out", "Nevada Contractors Ass'n", "nevada contractors association"},
		{"Assoc. written out", "Michigan Townships Assoc.", "michigan townships association"},
		{"ampersand", "Michigan Infrastructure & Transportation Association", "michigan infrastructure and transportation association"},
		{"leading The", "The Associated General Contractors of America", "associated general contractors of america"},
		{"final Co. Corp. LLC", "Acme Roofing Co., LLC", "acme roofing"},
		{"Corp.", "Acme Roofing Corp.", "acme roofing"},
		{"Company only at the end", "Company Safety Council Company", "company safety council"},
		{"dotted acronym", "A.G.C. of Michigan", "agc of michigan"},
		{"hyphen between capitals joins", "AFL-CIO", "aflcio"},
		{"other hyphens separate", "Labor-Management Council", "labor management council"},
		{"accents folded", "Asociación de Contratistas Hispanos", "asociacion de contratistas hispanos"},
		{"punctuation", `"Safety First!" Coalition, Nat'l`, "safety first coalition national"},
		{"nothing to compare", "Inc.", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := schema.NormalizeName(tc.in); got != tc.want {
				t.Errorf("NormalizeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestNamesMatch is the duplicate matcher on real-world name variants (issue 5; the
// names are those of Alliances in the demo samples and OSHA's Alliance pages).
func TestNamesMatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		want bool
	}{
		// Acronyms.
		{"parenthesis acronym", "National Utility Contractors Association (NUCA)", "NUCA", true},
		{"name with and without its parenthesis", "National Utility Contractors Association (NUCA)", "National Utility Contractors Association", true},
		{"acronym from initials", "American Society of Safety Professionals", "ASSP", true},
		{"acronym from initials, parenthesis on the other", "American Society of Safety Professionals (ASSP)", "American Society of Safety Professionals", true},
		{"lower-case acronym alone", "american society of safety professionals", "assp", true},
		{"acronym inside a name", "AGC of Michigan", "Associated General Contractors of Michigan", true},
		{"dotted acronym", "A.G.C. of Michigan", "Associated General Contractors of Michigan", true},
		{"acronym skips de", "HCA de Tejas", "Hispanic Contractors Association de Tejas", true},
		{"acronym skips of and and", "AFL-CIO", "American Federation of Labor and Congress of Industrial Organizations", true},
		{"acronym and number", "IUOE Local 150", "International Union of Operating Engineers Local 150", true},
		{"both acronyms", "NUCA", "nuca", true},
		{"renamed", "American Society of Safety Engineers", "ASSP", true},
		{"renamed acronym", "ASSE", "American Society of Safety Professionals (ASSP)", true},
		// Spelling variants.
		{"case and punctuation", "Associated General Contractors of Michigan", "ASSOCIATED GENERAL CONTRACTORS OF MICHIGAN", true},
		{"Inc.", "Michigan Concrete Association, Inc.", "Michigan Concrete Association", true},
		{"Assn", "Nevada Contractors Assn", "Nevada Contractors Association", true},
		{"Assoc.", "Nevada Mining Assoc.", "Nevada Mining Association", true},
		{"ampersand", "Michigan Infrastructure & Transportation Association", "Michigan Infrastructure and Transportation Association", true},
		{"leading The", "The Associated General Contractors of America", "Associated General Contractors of America", true},
		{"of and for", "Society for Human Resource Management", "Society of Human Resource Management", true},
		{"legal form", "Acme Roofing Co.", "Acme Roofing, LLC", true},
		{"a word and its translation differ", "Hispanic Contractors Association de Tejas", "Hispanic Contractors Asociación de Tejas", false},
		{"accents folded", "Asociación de Contratistas", "Asociacion de Contratistas", true},
		{"Inc. in the middle", "Associated Builders and Contractors, Inc., Pelican Chapter", "Associated Builders and Contractors Pelican Chapter", true},
		// Different organizations.
		{"chapter is its own signatory", "Michigan Chapter, ASSP", "ASSP", false},
		{"region is its own signatory", "ASSP Region 1", "American Society of Safety Professionals", false},
		{"chapter matches its own spelling", "Michigan Chapter, ASSP", "Michigan Chapter, American Society of Safety Professionals", true},
		{"different acronym", "ASSE", "American Society of Safety Professionals Foundation", false},
		{"other state", "Associated General Contractors of Michigan", "Associated General Contractors of Nevada", false},
		{"extra word", "Nevada Contractors Association", "Southern Nevada Contractors Association", false},
		{"other local", "IUOE Local 150", "International Union of Operating Engineers Local 151", false},
		{"lower-case word in a name is no acronym", "agc of Michigan", "Associated General Contractors of Michigan", false},
		{"all capitals are no acronyms", "AGC OF MICHIGAN", "Associated General Contractors of Michigan", false},
		{"one letter is no acronym", "A Smith", "Adam Smith", false},
		{"initials shared by two long names", "American Society of Safety Professionals", "Associated Society of Steel Producers", false},
		{"nothing to compare", "Inc.", "Inc.", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := schema.NamesMatch(tc.a, tc.b); got != tc.want {
				t.Errorf("NamesMatch(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := schema.NamesMatch(tc.b, tc.a); got != tc.want {
				t.Errorf("NamesMatch(%q, %q) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
			}
			// The index finds every match: matching names share a key.
			if tc.want {
				ka, kb := schema.NameKeys(tc.a), schema.NameKeys(tc.b)
				if !slices.ContainsFunc(ka, func(k string) bool { return slices.Contains(kb, k) }) {
					t.Errorf("NameKeys share nothing: %q %v, %q %v", tc.a, ka, tc.b, kb)
				}
			}
		})
	}
}

func TestNameKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"National Utility Contractors Association (NUCA)", []string{"w:national utility contractors association", "i:nuca", "w:nuca"}},
		{"IUOE Local 150", []string{"w:iuoe local 150", "i:iuoel150 "}},
		{"Inc.", nil},
	} {
		if got := schema.NameKeys(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("NameKeys(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
