package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// CSV import: the page uploads a file and posts it, as it is, to the node's POST
// /v1/import, whose NDJSON answer (docs/CSV.md, The answer streams) becomes a table of
// every row's outcome with its errors by column.

// maxImportBytes is the most one import takes (node.MaxImportBytes; docs/CSV.md). The
// form may be a little larger, for its other fields; a larger file still reaches the
// API, which refuses it in its own words.
const (
	maxImportBytes = 16 << 20
	uploadLimit    = maxImportBytes + 64<<10
)

// maxListedRows is how many rows a result lists in full; a longer import lists only the
// rows that were not imported.
const maxListedRows = 500

// importFlags are the import's options, the API's query flags.
var importFlags = []string{"dry_run", "all_or_nothing", "allow_extra"}

// importLine is one line of the NDJSON answer: the first ({"rows"}), a row ({"line",
// "outcome", ...}) or the last (the summary, or {"error"}; both "done").
type importLine struct {
	Rows            *int                `json:"rows"`
	Line            int                 `json:"line"`
	Outcome         string              `json:"outcome"`
	ID              string              `json:"id"`
	DuplicateOfLine int                 `json:"duplicate_of_line"`
	Errors          []schema.FieldError `json:"errors"`
	Imported        int                 `json:"imported"`
	Duplicates      int                 `json:"duplicates"`
	Failed          int                 `json:"failed"`
	NotImported     int                 `json:"not_imported"`
	DryRun          bool                `json:"dry_run"`
	Done            bool                `json:"done"`
	Error           string              `json:"error"`
}

type importData struct {
	Options   map[string]bool // the flags ticked
	FileName  string
	FileError string // about the file as a whole, shown next to the file input
	Result    *importResult
	CanWrite  bool
}

// importResult is an import's answer, read.
type importResult struct {
	Rows     []importLine // the rows listed
	Total    int          // data rows in the file
	Unlisted int          // imported rows left out of a long list
	schema.ImportTally
	DryRun bool
	Error  string // the import stopped part way
}

func (u *ui) importPage(c echo.Context) error {
	return u.site.Render(c, http.StatusOK, "import", "Import from CSV", importData{Options: map[string]bool{}, CanWrite: canWrite(c)})
}

// importCSV sends the uploaded file to POST /v1/import and shows each row's outcome; a
// file the API refuses whole is shown with its reason next to the file input.
func (u *ui) importCSV(c echo.Context) error {
	// A large file takes a while, as the API's own handler allows for.
	http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Time{})
	v := c.Request().PostForm
	d := importData{Options: map[string]bool{}, CanWrite: canWrite(c)}
	q := url.Values{}
	for _, k := range importFlags {
		if v.Get(k) != "" {
			d.Options[k] = true
			q.Set(k, "true")
		}
	}
	data, name, ok, err := webui.UploadedFile(c, "file")
	if err != nil {
		return err
	}
	d.FileName = name
	if !ok {
		d.FileError = "Choose a CSV file to import."
		return u.site.Render(c, http.StatusUnprocessableEntity, "import", "Import from CSV", d)
	}
	answer, _, err := u.site.Send(c, http.MethodPost, "/v1/import", q, data, http.Header{echo.HeaderContentType: {"text/csv"}})
	var p *edge.Problem
	if errors.As(err, &p) && p.Status != http.StatusUnauthorized && p.Status != http.StatusForbidden {
		d.FileError = p.Detail
		for _, fe := range p.Errors {
			d.FileError = join(d.FileError, fe.Field+": "+fe.Message)
		}
		return u.site.Render(c, p.Status, "import", "Import from CSV", d)
	}
	if err != nil {
		return err
	}
	if d.Result, err = readImport(answer); err != nil {
		return err
	}
	return u.site.Render(c, http.StatusOK, "import", "Import from CSV", d)
}

// readImport reads the NDJSON answer of POST /v1/import.
func readImport(answer []byte) (*importResult, error) {
	r := &importResult{}
	var rows []importLine
	done := false
	dec := json.NewDecoder(bytes.NewReader(answer))
	for {
		var l importLine
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case l.Rows != nil:
			r.Total, r.DryRun = *l.Rows, l.DryRun
		case l.Outcome != "":
			if l.Errors == nil {
				l.Errors = []schema.FieldError{}
			}
			rows = append(rows, l)
		case l.Done:
			done = true
			r.Error = l.Error
			r.Imported, r.Duplicates, r.Failed, r.NotImported = l.Imported, l.Duplicates, l.Failed, l.NotImported
		}
	}
	if !done {
		r.Error = "the node's answer ended before the import did; the rows listed were handled, the others perhaps not: import the same file again (rows already imported come back as duplicates)"
	}
	if r.Error != "" { // no summary: count what was reported
		r.ImportTally = schema.ImportTally{}
		for _, l := range rows {
			r.Add(l.Outcome)
		}
	}
	if len(rows) <= maxListedRows {
		r.Rows = rows
		return r, nil
	}
	for _, l := range rows {
		if l.Outcome == schema.ImportImported || l.Outcome == schema.ImportWouldImport {
			r.Unlisted++
			continue
		}
		r.Rows = append(r.Rows, l)
	}
	return r, nil
}
