package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

// TestBench runs alliancehub bench at a tiny scale through the command table, every
// scenario against real servers on loopback, and checks that its JSON report parses,
// holds a figure for every scenario and counts no errors. It asserts nothing about
// speed: the figures are the measure, not the test.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hubs and a node and pushes a few thousand signed records")
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--json", "--data", dir,
		"--records", "2000", "--programs", "4", "--sync-records", "500",
		"--federation-programs", "20", "--federation-batches", "2", "--federation-batch-records", "10",
		"--clients", "4", "--duration", "300ms", "--verify-time", "100ms"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var rep benchReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("report does not parse: %v\n%s", err, stdout.String())
	}
	if rep.Errors != 0 || rep.Failure != "" || len(rep.ErrorSamples) > 0 {
		t.Errorf("errors %d, failure %q, samples %q", rep.Errors, rep.Failure, rep.ErrorSamples)
	}
	if len(rep.Skipped) > 0 {
		t.Errorf("skipped %+v, want every scenario run", rep.Skipped)
	}
	seen := map[string]int{}
	for _, f := range rep.Figures {
		seen[f.Scenario]++
		if f.Target != "" && f.Met == nil {
			t.Errorf("figure %s %q has a target but no verdict", f.Scenario, f.Name)
		}
		if f.Name == "errors" && f.Value != 0 {
			t.Errorf("%s: %v errors", f.Scenario, f.Value)
		}
	}
	for _, s := range append([]string{"verify"}, benchScenarios...) {
		if seen[s] == 0 {
			t.Errorf("no figure for scenario %s; figures: %+v", s, rep.Figures)
		}
	}
	var generated int
	for _, g := range rep.Generated {
		if g.Scenario == "ingest" {
			generated += g.Records
		}
	}
	if generated != 2000 {
		t.Errorf("ingest generated %d records, want 2000", generated)
	}
	// --data is kept: the federation's program definitions load as a hub's --programs.
	if _, err := schema.LoadCatalog(filepath.Join(dir, "federation", "programs-20.json")); err != nil {
		t.Errorf("federation program definitions: %v", err)
	}
}

// TestBenchFlags: mistakes on the command line are usage errors (exit 2) naming the
// flag, and --write-programs writes definitions a hub loads.
func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "unknown scenario", args: []string{"--scenarios", "ingest,teleport"}, wantCode: 2, wantErr: `"teleport"`},
		{name: "hub without token", args: []string{"--hub", "http://127.0.0.1:1"}, wantCode: 2, wantErr: "--token"},
		{name: "no records", args: []string{"--records", "0"}, wantCode: 2, wantErr: "--records"},
		{name: "fewer records than programs", args: []string{"--records", "2", "--programs", "3"}, wantCode: 2, wantErr: "--programs"},
		{name: "batch too large", args: []string{"--batch-records", "501"}, wantCode: 2, wantErr: "--batch-records"},
		{name: "help", args: []string{"-h"}, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"bench"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantErr != "" {
				lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], tt.wantErr) {
					t.Errorf("stderr %q: want one line naming %s", stderr.String(), tt.wantErr)
				}
			}
		})
	}

	file := filepath.Join(t.TempDir(), "programs.json")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--write-programs", file, "--programs", "5", "--federation-programs", "12"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--write-programs: exit %d: %s", code, stderr.String())
	}
	cat, err := schema.LoadCatalog(file)
	if err != nil {
		t.Fatal(err)
	}
	if codes := cat.Codes(); !slices.Contains(codes, "P0012") || slices.Contains(codes, "P0013") {
		t.Errorf("codes %v: want P0001 to P0012", codes)
	}
	if _, err := os.Stat(file); err != nil {
		t.Error(err)
	}
}
