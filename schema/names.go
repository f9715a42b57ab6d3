package schema

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Participant names are written many ways ("ASSE" / "American Society of Safety
// Engineers" / "ASSP"; DOMAIN.md, Participants). The hub links the same Alliance recorded
// by two programs by its participants' names, so it compares them after normalizing what
// does not tell two organizations apart: case, accents, punctuation, spacing, legal
// forms, common abbreviations, "&" for "and", small words, and acronyms written for the
// words they stand for.
//
// A name is read as a sequence of words. Two names match when their significant words
// (small words left out) line up one for one, where a word may also stand for a run of
// two or more words of the other name whose initials it spells, if it is written as an
// acronym: in capitals ("NUCA", "AGC of Michigan", "A.G.C.", "AFL-CIO"), or alone
// ("assp"). A name ending in a parenthesis is also known by what the parenthesis holds:
// "National Utility Contractors Association (NUCA)" is known as "NUCA" too.
//
// Nothing else is dropped: a chapter, region or local is a signatory of its own, so
// "Michigan Chapter, ASSP" and "ASSP Region 1" do not match "ASSP".

// smallWords are left out when names are compared and when initials are taken
// ("American Society of Safety Professionals" is ASSP; "Hispanic Contractors Association
// de Tejas" is HCAT).
var smallWords = map[string]bool{
	"of": true, "and": true, "the": true, "for": true, "a": true, "an": true,
	"in": true, "on": true, "at": true, "to": true, "de": true, "del": true,
}

// abbreviations are the short forms written for a word in organization names.
var abbreviations = map[string]string{
	"assn": "association", "assoc": "association", "asso": "association", "asn": "association",
	"natl": "national", "intl": "international", "amer": "american",
	"dept": "department", "univ": "university", "inst": "institute", "soc": "society",
	"ctr": "center", "govt": "government", "mfrs": "manufacturers", "mfg": "manufacturing",
	"bldg": "building", "contr": "contractors", "contrs": "contractors",
}

// legalForms say how an organization is incorporated, never which one it is; they are
// left out wherever they stand ("Associated Builders and Contractors, Inc., Pelican
// Chapter").
var legalForms = map[string]bool{"inc": true, "incorporated": true, "llc": true, "pllc": true}

// endForms are legal forms left out only at the end of a name, where they are suffixes:
// elsewhere the word may be part of the name ("Company Safety Council").
var endForms = map[string]bool{
	"co": true, "corp": true, "corporation": true, "company": true,
	"ltd": true, "limited": true, "lp": true, "llp": true,
}

// renames are organizations that changed their name; either name matches both. The
// American Society of Safety Engineers became the American Society of Safety
// Professionals in 2017, and Alliance documents use both (DOMAIN.md, Participants).
var renames = map[string]string{
	"american society safety engineers": "american society safety professionals",
	"asse":                              "assp",
}

// accents folds the accented letters of the Latin alphabet met in organization names
// ("Asociación" is "Asociacion").
var accents = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ä", "a", "ã", "a", "å", "a",
	"é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ì", "i", "î", "i", "ï", "i",
	"ó", "o", "ò", "o", "ô", "o", "ö", "o", "õ", "o",
	"ú", "u", "ù", "u", "û", "u", "ü", "u",
	"ñ", "n", "ç", "c", "ý", "y", "ÿ", "y",
	"Á", "A", "À", "A", "Â", "A", "Ä", "A", "Ã", "A", "Å", "A",
	"É", "E", "È", "E", "Ê", "E", "Ë", "E",
	"Í", "I", "Ì", "I", "Î", "I", "Ï", "I",
	"Ó", "O", "Ò", "O", "Ô", "O", "Ö", "O", "Õ", "O",
	"Ú", "U", "Ù", "U", "Û", "U", "Ü", "U",
	"Ñ", "N", "Ç", "C", "Ý", "Y",
)

// Acronym lengths: a word of 2 to 12 letters may stand for as many words.
const (
	minAcronym = 2
	maxAcronym = 12
)

// nameWord is one word of a normalized name.
type nameWord struct {
	text    string // lower case, letters and digits only
	acronym bool   // written as an acronym: it may stand for the words its letters begin
	caps    bool   // written in capitals
}

// NormalizeName is a participant name as it is compared: lower case, accents folded,
// punctuation and extra spaces removed, "&" written "and", common abbreviations written
// out ("Assn." is "association"), legal forms ("Inc.", "LLC", a final "Co.") and a
// leading "The" left out, and a final parenthesis ("(NUCA)") left out. It is "" for a
// name with nothing to compare.
func NormalizeName(s string) string {
	main, _ := splitAlias(s)
	words := nameWords(main)
	if len(words) > 0 && words[0].text == "the" {
		words = words[1:]
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w.text
	}
	return strings.Join(out, " ")
}

// NamesMatch reports whether two participant names name the same organization (see the
// rules above). It is symmetric; a name with nothing to compare matches nothing.
func NamesMatch(a, b string) bool { return ParseName(a).Matches(ParseName(b)) }

// Name is a participant name read for matching, so a name compared with many others is
// read once.
type Name struct {
	forms [][]nameWord
}

// ParseName reads a participant name for matching.
func ParseName(s string) Name { return Name{forms: nameForms(s)} }

// Matches is NamesMatch for names already read.
func (n Name) Matches(o Name) bool {
	for _, fa := range n.forms {
		for _, fb := range o.forms {
			if alignWords(fa, fb) {
				return true
			}
		}
	}
	return false
}

// NameKeys are index keys for a participant name: two names that NamesMatch share at
// least one key (unless one writes in capitals a word the other writes in lower case,
// in a name where another word stands for several), so an index of keys finds every
// candidate and NamesMatch decides. Keys never match names by themselves.
func NameKeys(s string) []string {
	var keys []string
	add := func(k string) {
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	for _, f := range nameForms(s) {
		texts := make([]string, len(f))
		var sig strings.Builder
		for i, w := range f {
			texts[i] = w.text
			switch {
			case w.acronym, isNumber(w.text):
				sig.WriteString(w.text)
			default:
				r, _ := utf8.DecodeRuneInString(w.text)
				sig.WriteRune(r)
			}
			if isNumber(w.text) {
				sig.WriteByte(' ')
			}
		}
		add("w:" + strings.Join(texts, " "))
		add("i:" + sig.String())
	}
	return keys
}

// nameForms are the ways a name may be compared: its significant words, those of its
// final parenthesis, and the same for an organization's other name (renames).
func nameForms(s string) [][]nameWord {
	main, alias := splitAlias(s)
	var forms [][]nameWord
	for _, part := range []string{main, alias} {
		f := significant(nameWords(part))
		if len(f) == 0 {
			continue
		}
		forms = append(forms, f)
		if to, ok := renames[joinWords(f)]; ok {
			var g []nameWord
			for _, t := range strings.Fields(to) {
				g = append(g, nameWord{text: t, acronym: len(f) == 1})
			}
			forms = append(forms, g)
		}
	}
	return forms
}

// significant leaves out the small words; a name of one word may be an acronym however
// it is written ("assp").
func significant(words []nameWord) []nameWord {
	var out []nameWord
	for _, w := range words {
		if !smallWords[w.text] {
			out = append(out, w)
		}
	}
	if len(out) == 1 && isASCIILetters(out[0].text) {
		if n := len(out[0].text); n >= minAcronym && n <= maxAcronym {
			out[0].acronym = true
		}
	}
	return out
}

func joinWords(ws []nameWord) string {
	t := make([]string, len(ws))
	for i, w := range ws {
		t[i] = w.text
	}
	return strings.Join(t, " ")
}

// splitAlias separates a final parenthesis from the name before it, and drops any other
// parenthesis: "National Utility Contractors Association (NUCA)" is the name and "NUCA".
func splitAlias(s string) (main, alias string) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndexByte(s, '('); i >= 0 {
			main, alias = s[:i], s[i+1:len(s)-1]
		} else {
			main = s
		}
	} else {
		main = s
	}
	// Any other parenthesis is a remark, not part of the name.
	var b strings.Builder
	depth := 0
	for _, r := range main {
		switch {
		case r == '(':
			depth++
		case r == ')':
			depth = max(depth-1, 0)
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String(), alias
}

// nameWords splits a name into normalized words, keeping whether each was written as an
// acronym.
func nameWords(s string) []nameWord {
	s = accents.Replace(s)
	// Periods and apostrophes join ("A.G.C.", "Ass'n", "Workers'"), a hyphen between
	// capitals joins ("AFL-CIO"), "&" is "and", anything else not a letter or digit
	// separates.
	var b strings.Builder
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '.' || r == '\'' || r == '’' || r == 'ʼ':
		case r == '-' && isUpperAt(s, i-1, true) && isUpperAt(s, i+1, false):
		case r == '&':
			b.WriteString(" and ")
		default:
			b.WriteByte(' ')
		}
	}
	var words []nameWord
	for _, f := range strings.Fields(b.String()) {
		lower := strings.ToLower(f)
		w := nameWord{text: lower, caps: f != lower && f == strings.ToUpper(f)}
		if long, ok := abbreviations[lower]; ok {
			w.text = long
		} else if n := len(lower); w.caps && n >= minAcronym && n <= maxAcronym && isASCIILetters(lower) {
			w.acronym = true
		}
		if legalForms[w.text] {
			continue
		}
		words = append(words, w)
	}
	for len(words) > 1 && endForms[words[len(words)-1].text] {
		words = words[:len(words)-1]
	}
	// A name written all in capitals says nothing of which words are acronyms
	// ("NATIONAL UTILITY CONTRACTORS ASSOCIATION").
	allCaps := len(words) > 1
	for _, w := range words {
		if isLetters(w.text) && !w.caps && !smallWords[w.text] {
			allCaps = false
		}
	}
	if allCaps {
		for i := range words {
			words[i].acronym = false
		}
	}
	return words
}

// isUpperAt reports whether the rune before (back) or at byte i of s is a capital.
func isUpperAt(s string, i int, back bool) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	var r rune
	if back {
		r, _ = utf8.DecodeLastRuneInString(s[:i+1])
	} else {
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return unicode.IsUpper(r)
}

func isLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return s != ""
}

// isASCIILetters reports whether s is letters a to z only: acronyms are spelled in them.
func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

func isNumber(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return s != ""
}

// alignWords reports whether two names' significant words line up: one for one where
// equal, or an acronym of one for the run of the other's words whose initials it spells.
func alignWords(a, b []nameWord) bool {
	// memo[i][j]: 0 unknown, 1 aligns, 2 does not; names are short but the memo keeps
	// the search linear in their lengths' product.
	memo := make([][]int8, len(a)+1)
	for i := range memo {
		memo[i] = make([]int8, len(b)+1)
	}
	var from func(i, j int) bool
	from = func(i, j int) bool {
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if m := memo[i][j]; m != 0 {
			return m == 1
		}
		ok := a[i].text == b[j].text && from(i+1, j+1)
		if !ok && a[i].acronym {
			if k := len(a[i].text); spells(a[i].text, b[j:]) {
				ok = from(i+1, j+k)
			}
		}
		if !ok && b[j].acronym {
			if k := len(b[j].text); spells(b[j].text, a[i:]) {
				ok = from(i+k, j+1)
			}
		}
		memo[i][j] = 2
		if ok {
			memo[i][j] = 1
		}
		return ok
	}
	return from(0, 0)
}

// spells reports whether acronym is the initials of the first len(acronym) words (two or
// more, all words of letters).
func spells(acronym string, words []nameWord) bool {
	if len(acronym) < minAcronym || len(acronym) > len(words) {
		return false
	}
	for i := range len(acronym) {
		w := words[i].text
		if !isLetters(w) || w[0] != acronym[i] { // acronyms are ASCII: a byte is a letter
			return false
		}
	}
	return true
}
