package schema

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// CSV columns of an Alliance. The contract names participant to emphasis_areas
// (CONTRACT.md, "Import CSV"); id and the termination, conclusion and Ambassador columns
// are this project's additions, so an export imports back without losing them.
const (
	ColID                = "id"
	ColParticipant       = "participant"
	ColParticipantType   = "participant_type"
	ColLevel             = "level"
	ColOffice            = "office"
	ColSignedOn          = "signed_on"
	ColTermMonths        = "term_months"
	ColStatus            = "status"
	ColRenewals          = "renewals"
	ColGoalCategories    = "goal_categories"
	ColEmphasisAreas     = "emphasis_areas"
	ColNoticeOn          = "notice_on"
	ColTerminationReason = "termination_reason"
	ColConcludedOn       = "concluded_on"
	ColAmbassadorOn      = "ambassador_on"
)

// CSVColumns are the recognised columns, in the order an export writes them.
var CSVColumns = []string{
	ColID, ColParticipant, ColParticipantType, ColLevel, ColOffice, ColSignedOn, ColTermMonths,
	ColStatus, ColRenewals, ColGoalCategories, ColEmphasisAreas, ColNoticeOn,
	ColTerminationReason, ColConcludedOn, ColAmbassadorOn,
}

// csvRequired are the columns an import file must have (CONTRACT.md, "Import CSV").
var csvRequired = []string{ColParticipant, ColSignedOn}

// csvListSep separates the items of a list cell; an export writes it followed by a space.
const csvListSep = ";"

// Header errors: the file is refused before any row is read.
var (
	ErrCSVNoHeader        = errors.New("the first line is not a header")
	ErrCSVUnknownColumn   = errors.New("unknown column")
	ErrCSVMissingColumn   = errors.New("missing required column")
	ErrCSVDuplicateColumn = errors.New("repeated column")
)

// CSVHeader says where each recognised column is in a file's rows.
type CSVHeader struct {
	pos map[string]int
}

// ParseCSVHeader reads a header line. Names match case-insensitively with surrounding
// spaces trimmed. A column the import does not know is an error unless allowExtra, in
// which case it is ignored; a recognised column given twice is always an error, since
// the two cells could disagree.
func ParseCSVHeader(cells []string, allowExtra bool) (*CSVHeader, error) {
	h := &CSVHeader{pos: map[string]int{}}
	var unknown []string
	for i, cell := range cells {
		name := strings.ToLower(strings.TrimSpace(cell))
		switch {
		case !slices.Contains(CSVColumns, name):
			unknown = append(unknown, fmt.Sprintf("%q (column %d)", strings.TrimSpace(cell), i+1))
		case h.has(name):
			return nil, fmt.Errorf("%w %q: columns %d and %d are both %s; keep one", ErrCSVDuplicateColumn, name, h.pos[name]+1, i+1, name)
		default:
			h.pos[name] = i
		}
	}
	if len(h.pos) == 0 {
		return nil, fmt.Errorf("%w: none of its cells names a column; the first line must name the columns, at least %s%s",
			ErrCSVNoHeader, strings.Join(csvRequired, " and "), separatorHint(cells))
	}
	if len(unknown) > 0 && !allowExtra {
		return nil, fmt.Errorf("%w %s: the columns are %s; to ignore other columns, import with --allow-extra (allow_extra=true)",
			ErrCSVUnknownColumn, strings.Join(unknown, ", "), strings.Join(CSVColumns, ", "))
	}
	for _, r := range csvRequired {
		if !h.has(r) {
			return nil, fmt.Errorf("%w %q: an import needs at least the columns %s", ErrCSVMissingColumn, r, strings.Join(csvRequired, " and "))
		}
	}
	return h, nil
}

// separatorHint explains a header that names columns but not between commas: some
// spreadsheet locales save "CSV" with ";" or tabs between cells.
func separatorHint(cells []string) string {
	for _, sep := range []string{";", "\t"} {
		if len(cells) == 1 && slices.ContainsFunc(strings.Split(cells[0], sep), func(c string) bool {
			return slices.Contains(CSVColumns, strings.ToLower(strings.TrimSpace(c)))
		}) {
			return fmt.Sprintf(" (its cells are separated by %q; save the file as CSV with commas between cells)", sep)
		}
	}
	return ""
}

func (h *CSVHeader) has(col string) bool {
	_, ok := h.pos[col]
	return ok
}

// cell is the row's value in column col, with spreadsheet defusing undone and
// surrounding spaces trimmed; "" when the file has no such column.
func (h *CSVHeader) cell(row []string, col string) string {
	i, ok := h.pos[col]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(undefuseCell(row[i]))
}

// Alliance reads one data row as an Alliance of program p, before Normalize (see
// ValidAlliance). It returns
// the cells it could not read, named by their columns; a date that is not one is kept as
// such, so Validate names it with every other failing field. Columns the program decides
// (level, term, status) may be left empty.
func (h *CSVHeader) Alliance(row []string, p *Program) (*Alliance, []FieldError) {
	var errs ValidationError
	a := &Alliance{
		ID:            h.cell(row, ColID),
		Level:         Level(strings.ToLower(h.cell(row, ColLevel))),
		Office:        h.cell(row, ColOffice),
		Participants:  h.participants(row, &errs),
		SignedOn:      csvDate(h.cell(row, ColSignedOn)),
		Status:        Status(strings.ToLower(h.cell(row, ColStatus))),
		Renewals:      h.renewals(row, p, &errs),
		EmphasisAreas: splitList(h.cell(row, ColEmphasisAreas)),
		ConcludedOn:   csvDate(h.cell(row, ColConcludedOn)),
		AmbassadorOn:  csvDate(h.cell(row, ColAmbassadorOn)),
	}
	for _, c := range splitList(h.cell(row, ColGoalCategories)) {
		a.Goals = append(a.Goals, Goal{Category: c}) // a label becomes its code in Normalize
	}
	if s := h.cell(row, ColTermMonths); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs.Add(ColTermMonths, fmt.Sprintf("%q is not a whole number of months", s))
		}
		a.TermMonths = n
	}
	a.Termination = h.termination(row, &errs)
	if a.Status == "" {
		a.Status = derivedStatus(a)
	}
	if a.SignedOn.IsZero() && a.Status == "" {
		// A blank date is more often a slip than a draft: a draft says so.
		errs.Add(ColSignedOn, "is required: the date the agreement was signed (status draft for one not signed yet)")
	}
	return a, errs.Fields
}

// ValidAlliance reads one data row as an Alliance of program p, normalized and validated
// by the program's rules, and returns it with every failing field, named by its column
// and listed in the file's column order. The Alliance is usable only when no field
// failed.
func (h *CSVHeader) ValidAlliance(row []string, p *Program) (*Alliance, []FieldError) {
	a, errs := h.Alliance(row, p)
	a.Normalize(p)
	var ve *ValidationError
	if errors.As(a.Validate(p), &ve) {
		errs = append(errs, CSVFieldErrors(a, ve.Fields)...)
	}
	slices.SortStableFunc(errs, func(x, y FieldError) int { return cmp.Compare(h.order(x.Field), h.order(y.Field)) })
	return a, errs
}

// order is a field's column position in the file; fields no column holds come last.
func (h *CSVHeader) order(field string) int {
	if i, ok := h.pos[field]; ok {
		return i
	}
	return math.MaxInt
}

// participants reads the participant column (names separated by ";") and
// participant_type: one type for every name, or one per name in the same order.
func (h *CSVHeader) participants(row []string, errs *ValidationError) []Participant {
	names := splitList(h.cell(row, ColParticipant))
	var types []string
	if s := h.cell(row, ColParticipantType); s != "" {
		types = strings.Split(s, csvListSep)
	}
	if len(types) > 1 && len(types) != len(names) {
		errs.Add(ColParticipantType, fmt.Sprintf("has %d types for %d participants: give one type for all, or one per participant in the same order", len(types), len(names)))
		types = nil
	}
	out := make([]Participant, len(names))
	for i, name := range names {
		out[i].Name = name
		switch len(types) {
		case 1:
			out[i].Type = strings.TrimSpace(types[0])
		case len(names):
			out[i].Type = strings.TrimSpace(types[i])
		}
	}
	return out
}

// renewals reads "DATE[:MONTHS]; ...": each renewal's signing date and, when it is not
// the program's renewal default, its term.
func (h *CSVHeader) renewals(row []string, p *Program, errs *ValidationError) []Renewal {
	items := splitList(h.cell(row, ColRenewals))
	var out []Renewal
	for i, item := range items {
		date, months, hasMonths := strings.Cut(item, ":")
		r := Renewal{SignedOn: csvDate(strings.TrimSpace(date)), TermMonths: p.RenewalTermMonths.Default}
		if hasMonths {
			n, err := strconv.Atoi(strings.TrimSpace(months))
			if err != nil {
				errs.Add(ColRenewals, itemNote(i, len(items))+fmt.Sprintf("%q: the months after \":\" must be a whole number", item))
			}
			r.TermMonths = n
		}
		out = append(out, r)
	}
	return out
}

// termination reads notice_on and termination_reason; the termination takes effect 30
// days after notice (seed 001; CSP 04-01-001 XIV), which Normalize fills in.
func (h *CSVHeader) termination(row []string, errs *ValidationError) *Termination {
	notice, reason := h.cell(row, ColNoticeOn), h.cell(row, ColTerminationReason)
	if notice == "" {
		if reason != "" {
			errs.Add(ColTerminationReason, "is set, but notice_on is empty: a termination needs the date written notice was given")
		}
		return nil
	}
	return &Termination{NoticeOn: csvDate(notice), Reason: reason}
}

// derivedStatus is the status a row's history gives it when its status cell is empty.
// A termination is left to Normalize, which makes it terminated; a signing date alone
// makes it active, none a draft (Normalize too).
func derivedStatus(a *Alliance) Status {
	switch {
	case a.Termination != nil:
		return ""
	case !a.ConcludedOn.IsZero():
		// With ambassador_on too: an Ambassador relationship that ended (seed 001).
		return StatusConcluded
	case !a.AmbassadorOn.IsZero():
		return StatusAmbassador
	case len(a.Renewals) > 0:
		return StatusRenewed
	}
	return ""
}

// csvDate reads a date cell: YYYY-MM-DD, YYYY-MM or YYYY, kept with its precision
// (DOMAIN.md, "Real data is messy"). A cell that is not a date is kept for Validate to
// name.
func csvDate(s string) Date {
	if s == "" {
		return Date{}
	}
	d, err := ParseDate(s)
	if err != nil {
		return Date{bad: s}
	}
	return d
}

// splitList splits a list cell on ";", trimming each item and dropping empty ones (a
// trailing ";" is common in hand-made files).
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, csvListSep) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func itemNote(i, n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf("item %d: ", i+1)
}

// CSVRow is the Alliance as a row of CSVColumns, each cell defused for spreadsheets.
// A renewal's term is written only when it differs from the program's renewal default,
// and participant_type holds one type when every participant has the same.
func CSVRow(a *Alliance, p *Program) []string {
	var names, types, goals, renewals []string
	for _, pt := range a.Participants {
		names = append(names, pt.Name)
		types = append(types, pt.Type)
	}
	if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return t != types[0] }) {
		types = types[:1]
	}
	for _, g := range a.Goals {
		goals = append(goals, g.Category)
	}
	for _, r := range a.Renewals {
		s := r.SignedOn.String()
		if r.TermMonths != p.RenewalTermMonths.Default {
			s += ":" + strconv.Itoa(r.TermMonths)
		}
		renewals = append(renewals, s)
	}
	var notice, reason string
	if t := a.Termination; t != nil {
		notice, reason = t.NoticeOn.String(), t.Reason
	}
	row := []string{
		a.ID, joinList(names), joinList(types), string(a.Level), a.Office, a.SignedOn.String(),
		strconv.Itoa(a.TermMonths), string(a.Status), joinList(renewals), joinList(goals),
		joinList(a.EmphasisAreas), notice, reason, a.ConcludedOn.String(), a.AmbassadorOn.String(),
	}
	for i := range row {
		row[i] = DefuseCell(row[i])
	}
	return row
}

func joinList(items []string) string { return strings.Join(items, csvListSep+" ") }

// formulaStart are the first characters that make a spreadsheet run a cell as a formula
// (OWASP "CSV injection").
const formulaStart = "=+-@\t\r"

// needsDefusing reports whether a spreadsheet would run s, or whether s already looks
// defused (an apostrophe before such a cell), so that defusing stays reversible.
func needsDefusing(s string) bool {
	switch {
	case s == "":
		return false
	case strings.ContainsRune(formulaStart, rune(s[0])):
		return true
	case s[0] == '\'':
		return needsDefusing(s[1:])
	}
	return false
}

// DefuseCell puts an apostrophe before a cell a spreadsheet would run as a formula; the
// spreadsheet then shows it as text. Every CSV export (node and roster) uses it.
func DefuseCell(s string) string {
	if needsDefusing(s) {
		return "'" + s
	}
	return s
}

// undefuseCell removes exactly the apostrophe DefuseCell added, so an export imports
// back unchanged; any other apostrophe is data.
func undefuseCell(s string) string {
	if rest, ok := strings.CutPrefix(s, "'"); ok && needsDefusing(rest) {
		return rest
	}
	return s
}

// fieldPath splits a Validate field name: "goals[2].category" is goals, 2, category.
var fieldPath = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](?:\.(.+))?$`)

// csvColumnOf names the column a Validate field comes from, when a column holds it;
// list items are keyed by list and item field ("goals[].category").
var csvColumnOf = map[string]string{
	"participants":             ColParticipant,
	"goals":                    ColGoalCategories,
	"termination":              ColNoticeOn,
	"termination.notice_on":    ColNoticeOn,
	"termination.effective_on": ColNoticeOn,
	"termination.reason":       ColTerminationReason,
	// Indexed list items, by list and item field.
	"participants[].name":    ColParticipant,
	"participants[].type":    ColParticipantType,
	"goals[].category":       ColGoalCategories,
	"emphasis_areas[]":       ColEmphasisAreas,
	"renewals[].signed_on":   ColRenewals,
	"renewals[].term_months": ColRenewals,
}

// CSVFieldErrors renames Validate's failing fields (JSON paths) to the CSV columns they
// come from, so a person fixing the file sees the column to change; an item of a list
// cell is named by its position when the cell holds several. A field no column holds
// (expires_on, record) keeps the Alliance's field name.
func CSVFieldErrors(a *Alliance, fields []FieldError) []FieldError {
	out := make([]FieldError, len(fields))
	for i, f := range fields {
		out[i] = f
		if slices.Contains(CSVColumns, f.Field) {
			continue
		}
		if col, ok := csvColumnOf[f.Field]; ok {
			out[i].Field = col
			continue
		}
		m := fieldPath.FindStringSubmatch(f.Field)
		if m == nil {
			continue
		}
		col := csvColumnOf[m[1]+"[]"+dotted(m[3])]
		if col == "" {
			continue
		}
		idx, _ := strconv.Atoi(m[2])
		out[i] = FieldError{Field: col, Message: itemNote(idx, listLen(a, m[1])) + f.Message}
	}
	return out
}

func dotted(s string) string {
	if s == "" {
		return ""
	}
	return "." + s
}

func listLen(a *Alliance, list string) int {
	switch list {
	case "participants":
		return len(a.Participants)
	case "goals":
		return len(a.Goals)
	case "emphasis_areas":
		return len(a.EmphasisAreas)
	case "renewals":
		return len(a.Renewals)
	}
	return 0
}

// DuplicateKey is what makes two Alliances the same agreement for an import: the first
// participant's name, case-folded with punctuation and extra whitespace removed, and the
// signing date as written, with its precision. Names are written many ways (DOMAIN.md,
// Participants); the key catches the spellings that differ only in case and punctuation.
func DuplicateKey(a *Alliance) string {
	name := ""
	if len(a.Participants) > 0 {
		name = normalizeName(a.Participants[0].Name)
	}
	return name + "\x00" + a.SignedOn.String()
}

func normalizeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Row outcomes of an import (docs/CSV.md).
const (
	ImportImported    = "imported"
	ImportWouldImport = "would_import" // a dry run's "imported"
	ImportDuplicate   = "duplicate"
	ImportFailed      = "failed"
	ImportNotImported = "not_imported" // valid, but --all-or-nothing and another row failed
)

// ImportTally counts an import's row outcomes; Imported counts a dry run's would-be
// imports too. Clients of POST /v1/import use it to count the rows they were told of
// when the stream ends without its summary line.
type ImportTally struct {
	Imported    int `json:"imported"`
	Duplicates  int `json:"duplicates"`
	Failed      int `json:"failed"`
	NotImported int `json:"not_imported"`
}

// Add counts one row's outcome.
func (t *ImportTally) Add(outcome string) {
	switch outcome {
	case ImportImported, ImportWouldImport:
		t.Imported++
	case ImportDuplicate:
		t.Duplicates++
	case ImportFailed:
		t.Failed++
	case ImportNotImported:
		t.NotImported++
	}
}
