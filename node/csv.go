package node

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// Import bounds (docs/CSV.md): every input is bounded (DESIGN.md, Security).
const (
	MaxImportBytes = 16 << 20
	MaxImportRows  = 50_000
	// importChunk rows are written per journal transaction: one fsync per chunk, not
	// per row, and an interrupted import leaves whole chunks.
	importChunk = 256
)

// Import refusals: the file is refused whole, before any row is written.
var (
	ErrImportTooLarge = fmt.Errorf("the CSV file is larger than 16 MiB (%d bytes), the most one import takes: split it into smaller files and import each", MaxImportBytes)
	ErrCSVEmpty       = errors.New("the CSV file is empty: it needs a header line naming the columns, then one line per Alliance")
	ErrCSVEncoding    = errors.New("the CSV file is not UTF-8")
	ErrCSVSyntax      = errors.New("the CSV file is malformed")
	ErrCSVTooManyRows = fmt.Errorf("the CSV file has more than %d rows, the most one import takes: split it into smaller files and import each", MaxImportRows)
)

// Row outcomes of an import (docs/CSV.md).
const (
	OutcomeImported    = schema.ImportImported
	OutcomeWouldImport = schema.ImportWouldImport // a dry run's "imported"
	OutcomeDuplicate   = schema.ImportDuplicate
	OutcomeFailed      = schema.ImportFailed
	OutcomeNotImported = schema.ImportNotImported // valid, but --all-or-nothing and another row failed
)

// CSVFile is an import file read whole and checked: its header and its data rows.
type CSVFile struct {
	Header *schema.CSVHeader
	Rows   []CSVRow
}

// CSVRow is one data row and the line of the file it starts on (the header is line 1).
type CSVRow struct {
	Line  int
	Cells []string
}

var (
	utf8BOM  = []byte{0xEF, 0xBB, 0xBF}
	utf16BOM = [][]byte{{0xFF, 0xFE}, {0xFE, 0xFF}}
)

// ReadCSVFile checks an import file: its encoding (UTF-8; a UTF-8 byte order mark is
// dropped), its CSV syntax, its header and its size in rows. Lines whose cells are all
// empty are skipped, as spreadsheets leave them at the end.
func ReadCSVFile(data []byte, allowExtra bool) (*CSVFile, error) {
	data, err := utf8Text(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, ErrCSVEmpty
	}
	if err != nil {
		return nil, syntaxError(err)
	}
	h, err := schema.ParseCSVHeader(header, allowExtra)
	if err != nil {
		return nil, err
	}
	f := &CSVFile{Header: h}
	for {
		cells, err := r.Read()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return nil, syntaxError(err)
		}
		if blankRow(cells) {
			continue
		}
		if len(f.Rows) == MaxImportRows {
			return nil, ErrCSVTooManyRows
		}
		line, _ := r.FieldPos(0)
		f.Rows = append(f.Rows, CSVRow{Line: line, Cells: cells})
	}
}

// utf8Text returns data without a UTF-8 byte order mark, or says why it is not UTF-8
// text: spreadsheets save "Unicode text" as UTF-16 and older CSV as Windows-1252.
func utf8Text(data []byte) ([]byte, error) {
	for _, bom := range utf16BOM {
		if bytes.HasPrefix(data, bom) {
			return nil, fmt.Errorf(`%w: it is UTF-16 (it begins with a UTF-16 byte order mark); save it as "CSV UTF-8 (Comma delimited)" and import it again`, ErrCSVEncoding)
		}
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrCSVEmpty
	}
	if off := invalidUTF8(data); off >= 0 {
		line := bytes.Count(data[:off], []byte("\n")) + 1
		return nil, fmt.Errorf(`%w: line %d holds bytes that are not UTF-8; save the file as "CSV UTF-8 (Comma delimited)" and import it again`, ErrCSVEncoding, line)
	}
	return data, nil
}

// invalidUTF8 is the offset of the first byte that is not UTF-8, or -1.
func invalidUTF8(data []byte) int {
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size == 1 {
			return off
		}
		off += size
	}
	return -1
}

func syntaxError(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%w: %v", ErrCSVSyntax, err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return fmt.Errorf("%w: line %d has a different number of cells than the header; every line needs one cell per column (put a cell holding a comma in double quotes)", ErrCSVSyntax, pe.StartLine)
	}
	return fmt.Errorf("%w: line %d, column %d: %v", ErrCSVSyntax, pe.Line, pe.Column, pe.Err)
}

func blankRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// ImportOptions change how an import writes.
type ImportOptions struct {
	DryRun       bool // check and detect duplicates; write nothing
	AllOrNothing bool // write every row in one transaction, or none if any row fails
}

// ImportRow is the outcome of one data row. ID is the Alliance created or, for a
// duplicate, the one already held (or created from an earlier line, DuplicateOfLine).
type ImportRow struct {
	Line            int                 `json:"line"`
	Outcome         string              `json:"outcome"`
	ID              string              `json:"id"`
	DuplicateOfLine int                 `json:"duplicate_of_line,omitempty"`
	Errors          []schema.FieldError `json:"errors"`
}

// ImportSummary counts the outcomes; Imported counts would-be imports in a dry run.
type ImportSummary struct {
	Imported    int  `json:"imported"`
	Duplicates  int  `json:"duplicates"`
	Failed      int  `json:"failed"`
	NotImported int  `json:"not_imported"`
	DryRun      bool `json:"dry_run"`
	Done        bool `json:"done"`
}

func (s *ImportSummary) count(rows []ImportRow) {
	t := schema.ImportTally{Imported: s.Imported, Duplicates: s.Duplicates, Failed: s.Failed, NotImported: s.NotImported}
	for _, r := range rows {
		t.Add(r.Outcome)
	}
	s.Imported, s.Duplicates, s.Failed, s.NotImported = t.Imported, t.Duplicates, t.Failed, t.NotImported
}

// ImportError is an import stopped part way by a store failure: the rows before Line
// were written and reported; none from Line on.
type ImportError struct {
	Line int
	Err  error
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("import stopped at line %d: %v", e.Line, e.Err)
}

func (e *ImportError) Unwrap() error { return e.Err }

// Import creates an Alliance from each valid row of f that the node does not hold yet,
// and hands report the outcome of every row, in file order, a chunk at a time. Rows are
// written in chunks of importChunk, each one journal transaction, and reported only once
// their chunk is durable; with AllOrNothing, in one transaction or not at all.
func (n *Node) Import(ctx context.Context, f *CSVFile, opt ImportOptions, report func([]ImportRow) error) (ImportSummary, error) {
	im := &importer{n: n, h: f.Header, write: !opt.DryRun, seen: map[string]seenRow{}}
	sum := ImportSummary{DryRun: opt.DryRun, Done: true}
	emit := func(rows []ImportRow) error {
		sum.count(rows)
		return report(rows)
	}
	var err error
	if opt.AllOrNothing {
		err = im.allOrNothing(f.Rows, emit)
	} else {
		err = im.chunked(ctx, f.Rows, emit)
	}
	return sum, err
}

// importer carries one import's state: what the node holds and what the file has
// already given.
type importer struct {
	n     *Node
	h     *schema.CSVHeader
	write bool
	seen  map[string]seenRow // duplicate key -> the first row of this file with it

	held    map[string]string // duplicate key -> id of an Alliance the node holds
	heldSeq uint64            // the journal sequence number held reflects
}

type seenRow struct {
	id   string
	line int
}

// pending is a data row read and checked, waiting for its chunk to be written.
type pending struct {
	line  int
	a     *schema.Alliance // nil when the row failed
	idCol string           // the row's id cell: an Alliance it may already be
	body  []byte
	errs  []schema.FieldError
}

func (im *importer) chunked(ctx context.Context, rows []CSVRow, emit func([]ImportRow) error) error {
	for start := 0; start < len(rows); start += importChunk {
		if err := ctx.Err(); err != nil {
			return err // the client went away; the chunks written stay
		}
		chunk := rows[start:min(start+importChunk, len(rows))]
		out, err := im.apply(im.prepare(chunk), im.write)
		if err != nil {
			return &ImportError{Line: chunk[0].Line, Err: err}
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

// allOrNothing checks every row first; if one fails, nothing is written and each valid
// row is reported not_imported (duplicates still as duplicates). Otherwise every row
// goes into one journal transaction.
func (im *importer) allOrNothing(rows []CSVRow, emit func([]ImportRow) error) error {
	if len(rows) == 0 {
		return nil
	}
	ps := im.prepare(rows)
	failed := false
	for _, p := range ps {
		failed = failed || p.a == nil
	}
	out, err := im.apply(ps, im.write && !failed)
	if err != nil {
		return &ImportError{Line: rows[0].Line, Err: err}
	}
	for i := range out {
		if failed && out[i].Outcome == OutcomeWouldImport {
			out[i].Outcome, out[i].ID = OutcomeNotImported, ""
		}
	}
	for start := 0; start < len(out); start += importChunk {
		if err := emit(out[start:min(start+importChunk, len(out))]); err != nil {
			return err
		}
	}
	return nil
}

// prepare reads, normalizes and validates each row by the program's rules, as Create
// would, and encodes the body of each valid one. Errors name the CSV columns.
func (im *importer) prepare(rows []CSVRow) []pending {
	out := make([]pending, len(rows))
	for i, r := range rows {
		out[i] = im.prepareRow(r)
	}
	return out
}

func (im *importer) prepareRow(r CSVRow) pending {
	p := im.n.program
	a, errs := im.h.ValidAlliance(r.Cells, p)
	row := pending{line: r.Line, idCol: a.ID}
	if len(errs) == 0 {
		// The node assigns ids; an id cell only recognises a row already imported.
		a.ID = schema.NewID(p.Code)
		body, err := schema.AllianceBody(a)
		if err == nil {
			err = checkSize(body)
		}
		var ve *schema.ValidationError
		if errors.As(err, &ve) {
			errs = append(errs, ve.Fields...)
		} else if err != nil {
			errs = append(errs, schema.FieldError{Field: "record", Message: err.Error()})
		}
		row.body = body
	}
	if len(errs) > 0 {
		row.errs = errs
		return row
	}
	row.a = a
	return row
}

// apply decides each row's outcome in file order and, if write, writes the new
// Alliances in one journal transaction under the write lock, so no other write slips
// between the duplicate check and the write.
func (im *importer) apply(ps []pending, write bool) ([]ImportRow, error) {
	if write {
		im.n.writeMu.Lock()
		defer im.n.writeMu.Unlock()
	}
	if err := im.refreshHeld(); err != nil {
		return nil, err
	}
	out := make([]ImportRow, len(ps))
	var revs []revision
	for i, p := range ps {
		out[i] = im.decide(p, write)
		if out[i].Outcome == OutcomeImported {
			revs = append(revs, revision{kind: schema.KindAlliance, id: p.a.ID, body: p.body})
		}
	}
	if len(revs) > 0 {
		recs, err := im.n.writeLocked(revs...)
		if err != nil {
			return nil, err
		}
		im.heldSeq = recs[len(recs)-1].Seq
	}
	return out, nil
}

// decide is one row's outcome. A duplicate is a row whose id cell names an Alliance the
// node holds, or whose duplicate key matches one the node holds or an earlier row of
// the file (CONTRACT.md, "Import CSV": reported as a duplicate, not created twice).
func (im *importer) decide(p pending, write bool) ImportRow {
	row := ImportRow{Line: p.line, Errors: []schema.FieldError{}}
	if p.a == nil {
		row.Outcome, row.Errors = OutcomeFailed, p.errs
		return row
	}
	key := schema.DuplicateKey(p.a)
	first, inFile := im.seen[key]
	switch {
	case p.idCol != "" && im.holds(p.idCol):
		row.Outcome, row.ID = OutcomeDuplicate, p.idCol
	case inFile:
		row.Outcome, row.ID, row.DuplicateOfLine = OutcomeDuplicate, first.id, first.line
	case im.held[key] != "":
		row.Outcome, row.ID = OutcomeDuplicate, im.held[key]
	case write:
		row.Outcome, row.ID = OutcomeImported, p.a.ID
	default:
		row.Outcome = OutcomeWouldImport // no id: none is assigned until it is written
	}
	if !inFile {
		im.seen[key] = seenRow{id: row.ID, line: p.line}
	}
	return row
}

// holds reports whether the node holds Alliance id (a deleted draft is not held).
func (im *importer) holds(id string) bool {
	_, err := im.n.Get(id)
	return err == nil
}

// refreshHeld makes held the duplicate keys of every Alliance the node holds. It scans
// the store only when the journal moved since the last scan other than by this import's
// own writes (whose rows seen already has), so a long import does not rescan per chunk.
func (im *importer) refreshHeld() error {
	var seq uint64
	if err := im.n.journal.View(func(tx *journal.Tx) error {
		seq = tx.LastSeq()
		return nil
	}); err != nil {
		return err
	}
	if im.held != nil && seq == im.heldSeq {
		return nil
	}
	held := map[string]string{}
	it, err := im.n.db.Txn(false).Get(tableAlliances, indexID)
	if err != nil {
		return err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if s := raw.(*stored); !s.Deleted {
			key := schema.DuplicateKey(s.Alliance)
			if held[key] == "" {
				held[key] = s.ID
			}
		}
	}
	im.held, im.heldSeq = held, seq
	return nil
}

// WriteCSV writes the header and every Alliance matching f (not paged; deleted drafts
// left out, as in the list), one row at a time.
func (n *Node) WriteCSV(w io.Writer, f Filter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(schema.CSVColumns); err != nil {
		return err
	}
	it, err := n.db.Txn(false).Get(tableAlliances, indexID)
	if err != nil {
		return err
	}
	q := strings.ToLower(f.Query)
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*stored)
		if s.Deleted || !f.match(n.program, s.Alliance, q) {
			continue
		}
		if err := cw.Write(schema.CSVRow(s.Alliance, n.program)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// handleListCSV answers GET /v1/alliances?format=csv: the list's filters, every match.
func (n *Node) handleListCSV(c echo.Context, f Filter) error {
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="%s-alliances-%s.csv"`, n.program.Code, n.today()))
	res.WriteHeader(http.StatusOK)
	if err := n.WriteCSV(res, f); err != nil {
		// The status is sent; all the client can learn is a cut-short file.
		n.log.Error("csv export failed", "err", err)
	}
	return nil
}

// handleImport answers POST /v1/import: the file is checked whole, then each row's
// outcome streams back as NDJSON as its chunk is written (docs/CSV.md).
func (n *Node) handleImport(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	opt, allowExtra, err := importFlags(c)
	if err != nil {
		return err
	}
	body, err := readCSVBody(c)
	if err != nil {
		return err
	}
	f, err := ReadCSVFile(body, allowExtra)
	if err != nil {
		return err
	}
	return n.streamImport(c, f, opt)
}

// importFlags reads the dry_run, all_or_nothing and allow_extra query flags.
func importFlags(c echo.Context) (ImportOptions, bool, error) {
	var opt ImportOptions
	var allowExtra bool
	var errs schema.ValidationError
	// In a fixed order, so every bad flag is named, always in the same order.
	for _, flag := range []struct {
		name string
		dst  *bool
	}{{"dry_run", &opt.DryRun}, {"all_or_nothing", &opt.AllOrNothing}, {"allow_extra", &allowExtra}} {
		s := c.QueryParam(flag.name)
		if s == "" {
			continue
		}
		v, err := strconv.ParseBool(s)
		if err != nil {
			errs.Add(flag.name, "must be true or false (1 or 0)")
		}
		*flag.dst = v
	}
	return opt, allowExtra, edge.QueryProblem(&errs)
}

// readCSVBody reads a text/csv body of at most MaxImportBytes.
func readCSVBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	if mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); mt != "text/csv" {
		return nil, edge.Errorf(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"Content-Type is %q; send the file as text/csv", req.Header.Get(echo.HeaderContentType))
	}
	if req.ContentLength > MaxImportBytes {
		return nil, ErrImportTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, MaxImportBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, ErrImportTooLarge
	}
	if err != nil {
		return nil, edge.Errorf(http.StatusBadRequest, "invalid-request", "reading the request body: %v", err)
	}
	return body, nil
}

// importStart is the stream's first line.
type importStart struct {
	Rows   int  `json:"rows"`
	DryRun bool `json:"dry_run"`
}

// importFailure is the stream's last line when the import stopped part way.
type importFailure struct {
	Error string `json:"error"`
	Done  bool   `json:"done"`
}

func (n *Node) streamImport(c echo.Context, f *CSVFile, opt ImportOptions) error {
	// A large import may outlast the server's write timeout; it is bounded by its rows.
	http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Time{})
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	res.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(res)
	if err := enc.Encode(importStart{Rows: len(f.Rows), DryRun: opt.DryRun}); err != nil {
		return nil
	}
	res.Flush()
	start := time.Now()
	sum, err := n.Import(c.Request().Context(), f, opt, func(rows []ImportRow) error {
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		res.Flush()
		return nil
	})
	n.log.Info("import", "rows", len(f.Rows), "imported", sum.Imported, "duplicates", sum.Duplicates,
		"failed", sum.Failed, "dry_run", opt.DryRun, "duration_ms", time.Since(start).Milliseconds(), "err", err)
	var ie *ImportError
	switch {
	case errors.As(err, &ie):
		// Store failures are logged, not sent (STYLE.md); say what is safe to do.
		enc.Encode(importFailure{Done: true, Error: fmt.Sprintf(
			"the import stopped at line %d: the node could not store the rows (the cause is in its log); the rows reported before that line are stored; import the same file again to add the rest (stored rows come back as duplicates)", ie.Line)})
	case err != nil:
		// The client went away; nothing more can reach it.
	default:
		enc.Encode(sum)
	}
	res.Flush()
	return nil
}
