package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/schema"
)

// maxImportBytes is the most a node takes in one import (node.MaxImportBytes); the file
// is checked here first so an oversized one is never sent.
const maxImportBytes = 16 << 20

// importLine is any line of the node's NDJSON answer to POST /v1/import: the start
// ({"rows"}), a row ({"line"}), the summary ({"done"}) or a failure ({"error","done"}).
type importLine struct {
	Rows            *int         `json:"rows"`
	Line            int          `json:"line"`
	Outcome         string       `json:"outcome"`
	ID              string       `json:"id"`
	DuplicateOfLine int          `json:"duplicate_of_line"`
	Errors          []fieldError `json:"errors"`
	Imported        int          `json:"imported"`
	Duplicates      int          `json:"duplicates"`
	Failed          int          `json:"failed"`
	NotImported     int          `json:"not_imported"`
	DryRun          bool         `json:"dry_run"`
	Done            bool         `json:"done"`
	Error           string       `json:"error"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// importRow is one row in --json output.
type importRow struct {
	Line            int          `json:"line"`
	Outcome         string       `json:"outcome"`
	ID              string       `json:"id"`
	DuplicateOfLine int          `json:"duplicate_of_line,omitempty"`
	Errors          []fieldError `json:"errors"`
}

// importReport is the --json output: the counts and every row.
type importReport struct {
	schema.ImportTally
	DryRun bool        `json:"dry_run"`
	Rows   []importRow `json:"rows"`
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "import --node URL --token TOKEN --file FILE.csv [--dry-run] [--json] [--allow-extra] [--all-or-nothing]", stderr)
	nodeURL := fs.String("node", "", "the node's base URL")
	token := fs.String("token", "", "a program or admin token signed by the node's key")
	file := fs.String("file", "", "the CSV file (UTF-8, header line first; docs/CSV.md)")
	dryRun := fs.Bool("dry-run", false, "check every row and find duplicates; write nothing")
	asJSON := fs.Bool("json", false, "print the counts and every row's outcome as one JSON object")
	allowExtra := fs.Bool("allow-extra", false, "ignore columns the import does not know instead of refusing the file")
	allOrNothing := fs.Bool("all-or-nothing", false, "import every row in one transaction, or none if any row fails")
	if err := parse(fs, args, "node", "token", "file"); err != nil {
		return err
	}
	c, err := newAPIClient(*nodeURL, *token)
	if err != nil {
		return err
	}
	f, err := openImportFile(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	q := url.Values{}
	q.Set("dry_run", strconv.FormatBool(*dryRun))
	q.Set("all_or_nothing", strconv.FormatBool(*allOrNothing))
	q.Set("allow_extra", strconv.FormatBool(*allowExtra))
	resp, err := c.postCSV(ctx, "/v1/import?"+q.Encode(), f)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var progress *progressBar
	if !*asJSON && isTerminal(stderr) {
		progress = &progressBar{w: stderr}
	}
	rep, err := readImport(resp.Body, progress)
	progress.clear()
	if *asJSON {
		out, _ := json.Marshal(rep) // what arrived, even if the stream was cut short
		fmt.Fprintln(stdout, string(out))
	} else {
		printImport(stdout, rep, *allOrNothing)
	}
	switch {
	case err != nil:
		return err
	case rep.Failed > 0:
		return fmt.Errorf("%d row(s) failed; fix them and import the file again (rows already imported come back as duplicates)", rep.Failed)
	}
	return nil
}

// openImportFile opens the CSV file after checking it is a file within the node's limit.
func openImportFile(name string) (*os.File, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a file", name)
	}
	if st.Size() > maxImportBytes {
		return nil, fmt.Errorf("%s is %.1f MiB (%d bytes); a node takes at most 16 MiB (%d bytes) per import: split the file and import each part",
			name, float64(st.Size())/(1<<20), st.Size(), int64(maxImportBytes))
	}
	return os.Open(name)
}

// postCSV sends a CSV body and returns a 2xx response; anything else becomes the
// server's problem as one line, as send does for JSON requests.
func (c *apiClient) postCSV(ctx context.Context, path string, f *os.File) (*http.Response, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, f)
	if err != nil {
		return nil, err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+c.token)
	c.http.Timeout = 0 // the answer streams as the rows are written; ctx bounds it
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	return nil, c.problem(resp)
}

// readImport reads the NDJSON stream into a report, moving the progress bar as row
// lines arrive. The report holds what arrived even when the stream ends in an error.
func readImport(body io.Reader, progress *progressBar) (*importReport, error) {
	rep := &importReport{Rows: []importRow{}}
	dec := json.NewDecoder(body)
	for {
		var l importLine
		err := dec.Decode(&l)
		switch {
		case errors.Is(err, io.EOF):
			return rep, fmt.Errorf("the node stopped answering after %d row(s); the rows reported imported are stored: import the same file again to add the rest (stored rows come back as duplicates)", len(rep.Rows))
		case err != nil:
			return rep, fmt.Errorf("reading the node's answer after %d row(s): %w", len(rep.Rows), err)
		case l.Rows != nil:
			rep.DryRun = l.DryRun
			progress.start(*l.Rows)
		case l.Error != "":
			return rep, errors.New(l.Error)
		case l.Done:
			rep.Imported, rep.Duplicates, rep.Failed, rep.NotImported = l.Imported, l.Duplicates, l.Failed, l.NotImported
			return rep, nil
		default:
			rep.Rows = append(rep.Rows, importRow{Line: l.Line, Outcome: l.Outcome, ID: l.ID, DuplicateOfLine: l.DuplicateOfLine, Errors: l.Errors})
			rep.Add(l.Outcome)
			progress.set(len(rep.Rows))
		}
	}
}

// printImport prints a line per failed or duplicate row, what was not written, and last
// the counts (CONTRACT.md: "imported N, duplicates N, failed N").
func printImport(w io.Writer, rep *importReport, allOrNothing bool) {
	for _, r := range rep.Rows {
		switch r.Outcome {
		case "failed":
			parts := make([]string, len(r.Errors))
			for i, e := range r.Errors {
				parts[i] = e.Field + ": " + e.Message
			}
			fmt.Fprintf(w, "line %d: failed: %s\n", r.Line, strings.Join(parts, "; "))
		case "duplicate":
			fmt.Fprintf(w, "line %d: duplicate of %s\n", r.Line, duplicateOf(r))
		}
	}
	switch {
	case rep.DryRun:
		fmt.Fprintf(w, "dry run: nothing was written; %d row(s) would be imported\n", rep.Imported)
	case allOrNothing && rep.Failed > 0:
		fmt.Fprintf(w, "nothing was written (--all-or-nothing): %d row(s) failed; %d valid row(s) not imported\n", rep.Failed, rep.NotImported)
	}
	fmt.Fprintf(w, "imported %d, duplicates %d, failed %d\n", rep.Imported, rep.Duplicates, rep.Failed)
}

func duplicateOf(r importRow) string {
	switch {
	case r.DuplicateOfLine > 0 && r.ID != "":
		return fmt.Sprintf("line %d (%s)", r.DuplicateOfLine, r.ID)
	case r.DuplicateOfLine > 0:
		return fmt.Sprintf("line %d", r.DuplicateOfLine)
	}
	return r.ID
}

// isTerminal reports whether w is a terminal (a character device), where a progress bar
// helps; in a pipe or a file it would be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "\r[#####.....] 1200/5000 rows" on a terminal, at most ten times a
// second. A nil *progressBar draws nothing.
type progressBar struct {
	w     io.Writer
	total int
	drawn time.Time
	width int // characters last drawn, to clear
}

const barCells = 30

func (p *progressBar) start(total int) {
	if p != nil {
		p.total = total
		p.draw(0)
	}
}

func (p *progressBar) set(done int) {
	if p == nil || (done < p.total && time.Since(p.drawn) < 100*time.Millisecond) {
		return
	}
	p.draw(done)
}

func (p *progressBar) draw(done int) {
	filled := barCells
	if p.total > 0 {
		filled = done * barCells / p.total
	}
	s := fmt.Sprintf("\r[%s%s] %d/%d rows", strings.Repeat("#", filled), strings.Repeat(".", barCells-filled), done, p.total)
	p.width = len(s) - 1
	fmt.Fprint(p.w, s)
	p.drawn = time.Now()
}

// clear erases the bar, so the report starts on a clean line.
func (p *progressBar) clear() {
	if p != nil && p.width > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	}
}
