package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lastLine is the last line a command printed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// writeTemp writes a file in the test's temporary directory and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// nodeTotal is how many Alliances the node lists.
func (c *cluster) nodeTotal() int {
	c.t.Helper()
	var page struct {
		Total int `json:"total"`
	}
	call(c.t, http.MethodGet, c.nodeURL+"/v1/alliances", c.clerk, nil, http.StatusOK, &page)
	return page.Total
}

// TestImport runs `alliancehub import` against a real node: the per-row report and the
// last line, --json, --dry-run, refusals and exit statuses.
func TestImport(t *testing.T) {
	c := startCluster(t)
	file := writeTemp(t, "alliances.csv", "participant,signed_on,goal_categories\n"+
		"Acme Corp,2024-05-01,Outreach and Communication\n"+ // line 2
		"Beta Union,2024-06,outreach-communication\n"+ // line 3
		"ACME corp.,2024-05-01,outreach-communication\n"+ // line 4: line 2 again
		"Gamma,2024-13-01,x\n"+ // line 5
		"Delta,2021,outreach-communication\n") // line 6
	args := func(extra ...string) []string {
		return append([]string{"import", "--node", c.nodeURL, "--token", c.clerk, "--file", file}, extra...)
	}

	t.Run("dry run writes nothing", func(t *testing.T) {
		res := cliRun(t, "", nil, args("--dry-run")...)
		if res.code != 1 {
			t.Errorf("exit %d, want 1 (a row failed); stderr %s", res.code, res.stderr)
		}
		if !strings.Contains(res.stdout, "dry run: nothing was written") || lastLine(res.stdout) != "imported 3, duplicates 1, failed 1" {
			t.Errorf("stdout:\n%s", res.stdout)
		}
		if n := c.nodeTotal(); n != 0 {
			t.Errorf("node holds %d after a dry run", n)
		}
	})

	t.Run("import reports failed and duplicate rows", func(t *testing.T) {
		res := cliRun(t, "", nil, args()...)
		if res.code != 1 {
			t.Errorf("exit %d, want 1", res.code)
		}
		checkErrorLine(t, res, "alliancehub import: ", "1 row(s) failed")
		lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("stdout:\n%s", res.stdout)
		}
		if !strings.HasPrefix(lines[0], "line 4: duplicate of line 2 (MI-") {
			t.Errorf("duplicate line %q", lines[0])
		}
		if want := `line 5: failed: signed_on: "2024-13-01": month must be 01 to 12; goal_categories: "x" is not a goal category of program MI`; !strings.HasPrefix(lines[1], want) {
			t.Errorf("failed line\n%q\nwant it to start\n%q", lines[1], want)
		}
		if lines[2] != "imported 3, duplicates 1, failed 1" {
			t.Errorf("last line %q", lines[2])
		}
		if n := c.nodeTotal(); n != 3 {
			t.Errorf("node holds %d, want 3", n)
		}
	})

	t.Run("again, as JSON: all duplicates", func(t *testing.T) {
		res := cliRun(t, "", []string{"ALLIANCEHUB_NODE=" + c.nodeURL, "ALLIANCEHUB_TOKEN=" + c.clerk, "ALLIANCEHUB_FILE=" + file},
			"import", "--json")
		if res.code != 1 {
			t.Errorf("exit %d, want 1", res.code)
		}
		var got importReport
		dec := json.NewDecoder(strings.NewReader(res.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("stdout %q: %v", res.stdout, err)
		}
		if got.Imported != 0 || got.Duplicates != 4 || got.Failed != 1 || got.DryRun || len(got.Rows) != 5 {
			t.Errorf("report %+v", got)
		}
		var outcomes []string
		for _, r := range got.Rows {
			outcomes = append(outcomes, r.Outcome)
			if r.Outcome == "duplicate" && !strings.HasPrefix(r.ID, "MI-") {
				t.Errorf("line %d: duplicate without the id it duplicates", r.Line)
			}
		}
		if diff := cmp.Diff([]string{"duplicate", "duplicate", "duplicate", "failed", "duplicate"}, outcomes); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if fe := got.Rows[3].Errors; len(fe) != 3 || fe[0].Field != "signed_on" || got.Rows[3].Line != 5 {
			t.Errorf("failed row %+v", got.Rows[3])
		}
	})

	t.Run("a clean file exits 0", func(t *testing.T) {
		clean := writeTemp(t, "clean.csv", "participant,signed_on,goal_categories\nEpsilon,2024-01-02,outreach-communication\n")
		res := cliRun(t, "", nil, "import", "--node", c.nodeURL, "--token", c.clerk, "--file", clean)
		if res.code != 0 || res.stdout != "imported 1, duplicates 0, failed 0\n" || res.stderr != "" {
			t.Errorf("exit %d\nstdout %q\nstderr %q", res.code, res.stdout, res.stderr)
		}
	})

	t.Run("all or nothing", func(t *testing.T) {
		mixed := writeTemp(t, "mixed.csv", "participant,signed_on,goal_categories\nZeta,2024-01-02,outreach-communication\nEta,2024-01-02,\n")
		res := cliRun(t, "", nil, "import", "--node", c.nodeURL, "--token", c.clerk, "--file", mixed, "--all-or-nothing")
		if res.code != 1 || !strings.Contains(res.stdout, "nothing was written (--all-or-nothing): 1 row(s) failed; 1 valid row(s) not imported") ||
			lastLine(res.stdout) != "imported 0, duplicates 0, failed 1" {
			t.Errorf("exit %d stdout:\n%s", res.code, res.stdout)
		}
	})

	t.Run("a refused file is one error line", func(t *testing.T) {
		bad := writeTemp(t, "bad.csv", "participant,signed_on,colour\nA,2024-01-01,red\n")
		res := cliRun(t, "", nil, "import", "--node", c.nodeURL, "--token", c.clerk, "--file", bad)
		if res.code != 1 || res.stdout != "" {
			t.Errorf("exit %d, stdout %q", res.code, res.stdout)
		}
		checkErrorLine(t, res, "alliancehub import: ", `unknown column "colour"`)
	})

	if n := c.nodeTotal(); n != 4 {
		t.Errorf("node holds %d, want 4", n)
	}
}

// TestImportRefusedLocally: mistakes the command catches before sending anything. The
// node URL answers nothing, so a request would fail differently.
func TestImportRefusedLocally(t *testing.T) {
	dir := t.TempDir()
	sized := func(name string, size int64) string { // a sparse file: no disk used
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return path
	}
	big := sized("big.csv", 17<<20)
	fifty := sized("fifty.csv", 50_000_000)
	node := "http://" + freeAddr(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"over 16 MiB", []string{"--file", big}, 1, "is 17.0 MiB (17825792 bytes); a node takes at most 16 MiB"},
		{"50 MB", []string{"--file", fifty}, 1, "is 47.7 MiB (50000000 bytes); a node takes at most 16 MiB (16777216 bytes) per import: split the file"},
		{"no such file", []string{"--file", filepath.Join(dir, "none.csv")}, 1, "none.csv"},
		{"a directory", []string{"--file", dir}, 1, "is not a file"},
		{"no file flag", nil, 2, "missing --file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, "", nil, append([]string{"import", "--node", node, "--token", "t"}, tt.args...)...)
			if res.code != tt.wantCode || res.stdout != "" {
				t.Errorf("exit %d (want %d), stdout %q", res.code, tt.wantCode, res.stdout)
			}
			checkErrorLine(t, res, "alliancehub import: ", tt.want)
		})
	}
}

// TestImportProgress: on a terminal the bar moves as row lines arrive and is cleared at
// the end; the report holds every row and the node's counts.
func TestImportProgress(t *testing.T) {
	stream := `{"rows":2,"dry_run":false}
{"line":2,"outcome":"imported","id":"MI-a","errors":[]}
{"line":3,"outcome":"failed","id":"","errors":[{"field":"signed_on","message":"is required"}]}
{"imported":1,"duplicates":0,"failed":1,"not_imported":0,"dry_run":false,"done":true}
`
	var bar strings.Builder
	p := &progressBar{w: &bar}
	rep, err := readImport(strings.NewReader(stream), p)
	p.clear()
	if err != nil || rep.Imported != 1 || rep.Failed != 1 || len(rep.Rows) != 2 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	out := bar.String()
	for _, want := range []string{"\r[" + strings.Repeat(".", barCells) + "] 0/2 rows", "\r[" + strings.Repeat("#", barCells) + "] 2/2 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output %q lacks %q", out, want)
		}
	}
	if !strings.HasSuffix(out, "\r"+strings.Repeat(" ", len(" [] 2/2 rows")+barCells-1)+"\r") {
		t.Errorf("bar not cleared: %q", out)
	}
	// A stream cut short is an error that says what is safe to do; what arrived is kept.
	rep, err = readImport(strings.NewReader(strings.Join(strings.Split(stream, "\n")[:2], "\n")), nil)
	if err == nil || !strings.Contains(err.Error(), "import the same file again") || len(rep.Rows) != 1 {
		t.Errorf("cut short: %+v, %v", rep, err)
	}
}

// TestImportKill9: a node killed with SIGKILL mid-import keeps whole chunks (256 rows per
// journal transaction), every row it reported imported among them; importing the same
// file again reports those as duplicates and imports the rest.
func TestImportKill9(t *testing.T) {
	c := startCluster(t)
	const rows = 20_000
	var b strings.Builder
	b.WriteString("participant,signed_on,goal_categories\n")
	for i := range rows {
		fmt.Fprintf(&b, "Partner %d,2024-01-01,outreach-communication\n", i)
	}
	file := writeTemp(t, "big.csv", b.String())

	req, err := http.NewRequest(http.MethodPost, c.nodeURL+"/v1/import", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+c.clerk)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Kill the node once some rows are reported imported, long before the last.
	reported := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && reported < 300 {
		if strings.Contains(sc.Text(), `"outcome":"imported"`) {
			reported++
		}
	}
	if reported < 300 {
		t.Fatalf("only %d rows reported before the stream ended", reported)
	}
	c.crashNode()

	held := c.nodeTotal()
	if held < reported || held%256 != 0 || held >= rows {
		t.Fatalf("after kill -9 the node holds %d; want whole chunks of 256, at least the %d reported", held, reported)
	}
	res := cliRun(t, "", nil, "import", "--node", c.nodeURL, "--token", c.clerk, "--file", file)
	if want := fmt.Sprintf("imported %d, duplicates %d, failed 0", rows-held, held); res.code != 0 || lastLine(res.stdout) != want {
		t.Errorf("re-run: exit %d, last line %q, want %q\n%s", res.code, lastLine(res.stdout), want, res.stderr)
	}
	if n := c.nodeTotal(); n != rows {
		t.Errorf("node holds %d, want %d", n, rows)
	}
}
