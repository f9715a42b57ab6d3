package node_test

// A fuzz target for CSV import, run against a real node in a temporary directory. Seeds
// are added in code and kept in testdata/fuzz/FuzzImport/; run it with
// `go test -run=^$ -fuzz=^FuzzImport$ -fuzztime=60s ./node`.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// csvFileErrors are the errors an import file is refused with, before any row is read.
var csvFileErrors = []error{
	node.ErrCSVEmpty, node.ErrCSVEncoding, node.ErrCSVSyntax, node.ErrCSVTooManyRows,
	schema.ErrCSVNoHeader, schema.ErrCSVUnknownColumn, schema.ErrCSVMissingColumn, schema.ErrCSVDuplicateColumn,
}

// fuzzNodes opens MIOSHA nodes in directories under f's temporary directory. They
// never reach a hub: they are not run, so they never sync.
func fuzzNodes(f *testing.F) func(t testing.TB) *node.Node {
	f.Helper()
	cat, err := schema.LoadCatalog()
	if err != nil {
		f.Fatal(err)
	}
	def, _ := cat.Get("MI")
	k, err := auth.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	return func(t testing.TB) *node.Node {
		t.Helper()
		data, err := os.MkdirTemp(dir, "MI")
		if err != nil {
			t.Fatal(err)
		}
		n, err := node.New(node.Config{Program: def, Key: k, DataDir: data, HubURL: "http://127.0.0.1:9"})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// importRows imports f and returns every row's outcome, checking that the summary
// counts them and that the rows come in file order, one per data row.
func importRows(t *testing.T, n *node.Node, f *node.CSVFile, opt node.ImportOptions) []node.ImportRow {
	t.Helper()
	var rows []node.ImportRow
	sum, err := n.Import(context.Background(), f, opt, func(rs []node.ImportRow) error {
		rows = append(rows, rs...)
		return nil
	})
	if err != nil {
		t.Fatalf("import (%+v): %v", opt, err)
	}
	if len(rows) != len(f.Rows) {
		t.Fatalf("import (%+v) reported %d rows of %d", opt, len(rows), len(f.Rows))
	}
	var want node.ImportSummary
	for i, r := range rows {
		if r.Line != f.Rows[i].Line {
			t.Fatalf("row %d reported as line %d, want %d", i, r.Line, f.Rows[i].Line)
		}
		switch r.Outcome {
		case node.OutcomeImported, node.OutcomeWouldImport:
			want.Imported++
		case node.OutcomeDuplicate:
			want.Duplicates++
		case node.OutcomeFailed:
			want.Failed++
		case node.OutcomeNotImported:
			want.NotImported++
		default:
			t.Fatalf("line %d: outcome %q", r.Line, r.Outcome)
		}
		if (r.Outcome == node.OutcomeFailed) != (len(r.Errors) > 0) {
			t.Fatalf("line %d: outcome %s with errors %v", r.Line, r.Outcome, r.Errors)
		}
		for _, fe := range r.Errors {
			if fe.Field == "" || fe.Message == "" {
				t.Fatalf("line %d: field error without a field or message: %+v", r.Line, fe)
			}
		}
	}
	want.DryRun, want.Done = opt.DryRun, true
	if sum != want {
		t.Fatalf("summary %+v, rows count %+v", sum, want)
	}
	return rows
}

// exportLine is line n (from 1) of a CSV file, for messages.
func exportLine(data []byte, n int) []byte {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return nil
	}
	return lines[n-1]
}

func heldCount(t *testing.T, n *node.Node) int {
	t.Helper()
	p, err := n.List(node.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

// FuzzImport reads an arbitrary file as an import and imports it. A file is refused
// with one of the import's errors or gives rows in file order. A dry run stores
// nothing; the import that follows decides every row as the dry run did (all or nothing
// when asked: one failing row and nothing is stored); each imported Alliance is held,
// valid by the program's rules; and the same file imported again creates nothing: the
// rows imported come back as duplicates.
func FuzzImport(f *testing.F) {
	for _, seed := range []struct {
		file              string
		extra, allOrNoneA bool
	}{
		{"participant,signed_on,goal_categories\nAcme Roofing,2024-05-01,outreach-communication\nBeta Union,2023-11,Outreach and Communication; training-education\n", false, false},
		{"\ufeffParticipant,Signed_On,Goal_Categories,notice_on,termination_reason\nAcme,2024-05-01,outreach-communication,2025-01-10,'=merger\n,,,,\nacme.,2024-05-01,outreach-communication,,\n", false, false},
		{"participant,signed_on,goal_categories,status,renewals\nAcme,2019-06-01,outreach-communication,,2022-06-01:60\nBeta,2024-02-30,outreach-communication,,\n", false, true},
		{"participant,signed_on,colour,goal_categories\nAcme,2024,red,outreach-communication\n", true, false},
		{"participant,signed_on\n\"Acme, Inc.\",2024-05-01\n\"unterminated,2024\n", false, false},
		{"participant;signed_on\nAcme;2024-05-01\n", false, false},
		{"\xff\xfep\x00", false, false},
		{"participant,signed_on,goal_categories\nAcme,2024-05-01,outreach-communication\nAcme,2024-05-01\n", false, false},
		{"id,participant,signed_on,goal_categories,office\nMI-0123456789abcdef,Acme,2024-05-01,outreach-communication,\"Lansing\r\nOffice\"\n", false, false},
	} {
		f.Add([]byte(seed.file), seed.extra, seed.allOrNoneA)
	}
	open := fuzzNodes(f)
	n := open(f)
	f.Cleanup(func() { n.Close() })
	f.Fuzz(func(t *testing.T, data []byte, allowExtra, allOrNothing bool) {
		if heldCount(t, n) > 500 {
			// Exporting everything held each time would slow fuzzing down: start afresh.
			n.Close()
			n = open(t)
		}
		file, err := node.ReadCSVFile(data, allowExtra)
		if err != nil {
			if !slices.ContainsFunc(csvFileErrors, func(e error) bool { return errors.Is(err, e) }) {
				t.Fatalf("file refused with %v, not one of the import's errors", err)
			}
			return
		}
		for i, r := range file.Rows {
			if r.Line < 2 || (i > 0 && r.Line <= file.Rows[i-1].Line) || len(r.Cells) != len(file.Rows[0].Cells) {
				t.Fatalf("row %d: line %d, %d cells: %+v", i, r.Line, len(r.Cells), file.Rows)
			}
		}

		held := heldCount(t, n)
		dry := importRows(t, n, file, node.ImportOptions{DryRun: true})
		if got := heldCount(t, n); got != held {
			t.Fatalf("a dry run changed what the node holds: %d Alliances, then %d", held, got)
		}

		done := importRows(t, n, file, node.ImportOptions{AllOrNothing: allOrNothing})
		anyFailed := slices.ContainsFunc(dry, func(r node.ImportRow) bool { return r.Outcome == node.OutcomeFailed })
		imported := 0
		for i, r := range done {
			want := dry[i]
			switch {
			case want.Outcome == node.OutcomeWouldImport && allOrNothing && anyFailed:
				want.Outcome = node.OutcomeNotImported
			case want.Outcome == node.OutcomeWouldImport:
				want.Outcome, want.ID = node.OutcomeImported, r.ID
			case want.Outcome == node.OutcomeDuplicate && want.ID == "":
				want.ID = r.ID // a dry run gives the earlier line no id
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Fatalf("line %d: the import decided otherwise than its dry run (-dry +import):\n%s", r.Line, diff)
			}
			if r.Outcome != node.OutcomeImported {
				continue
			}
			imported++
			a, err := n.Get(r.ID)
			if err != nil {
				t.Fatalf("line %d imported as %s, which the node does not hold: %v", r.Line, r.ID, err)
			}
			if err := a.Validate(n.Program()); err != nil {
				t.Fatalf("line %d imported as %s, which is not valid: %v", r.Line, r.ID, err)
			}
		}
		if got := heldCount(t, n); got != held+imported {
			t.Fatalf("the node holds %d Alliances after importing %d to its %d", got, imported, held)
		}

		again := importRows(t, n, file, node.ImportOptions{DryRun: true})
		for i, r := range again {
			if done[i].Outcome == node.OutcomeImported && r.Outcome != node.OutcomeDuplicate {
				t.Fatalf("line %d, imported as %s, imports again as %s", r.Line, done[i].ID, r.Outcome)
			}
			if r.Outcome == node.OutcomeWouldImport && !(allOrNothing && anyFailed) {
				t.Fatalf("line %d would be imported a second time", r.Line)
			}
		}

		// What the node exports imports back as what it holds: every row a duplicate.
		var export bytes.Buffer
		if err := n.WriteCSV(&export, node.Filter{}); err != nil {
			t.Fatalf("export: %v", err)
		}
		exported, err := node.ReadCSVFile(export.Bytes(), false)
		if err != nil {
			t.Fatalf("the node's export does not read as an import: %v\n%s", err, export.Bytes())
		}
		for _, r := range importRows(t, n, exported, node.ImportOptions{DryRun: true}) {
			if r.Outcome != node.OutcomeDuplicate {
				t.Fatalf("line %d of the node's export imports as %s (%v), not as a duplicate of what it holds:\n%s",
					r.Line, r.Outcome, r.Errors, exportLine(export.Bytes(), r.Line))
			}
		}
	})
}
