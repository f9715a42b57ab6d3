package schema_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// newRev is schema.NewRev that fails the test on error.
func newRev(t *testing.T, prev string, body []byte) string {
	t.Helper()
	rev, err := schema.NewRev(prev, body)
	if err != nil {
		t.Fatalf("NewRev(%q): %v", prev, err)
	}
	return rev
}

func TestNewRevGenerations(t *testing.T) {
	body1 := []byte(`{"id":"MI-abc","status":"draft"}`)
	body2 := []byte(`{"id":"MI-abc","status":"active"}`)
	rev1 := newRev(t, "", body1)
	rev2 := newRev(t, rev1, body2)
	rev3 := newRev(t, rev2, body2)

	tests := []struct {
		name    string
		rev     string
		wantGen int
	}{
		{name: "first", rev: rev1, wantGen: 1},
		{name: "second", rev: rev2, wantGen: 2},
		{name: "third, same body as the second", rev: rev3, wantGen: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen, hash, err := schema.ParseRev(tt.rev)
			if err != nil {
				t.Fatalf("ParseRev(%q): %v", tt.rev, err)
			}
			if gen != tt.wantGen {
				t.Errorf("generation %d, want %d", gen, tt.wantGen)
			}
			if len(hash) != 64 || !strings.HasSuffix(tt.rev, "-"+hash) {
				t.Errorf("hash %q of %q", hash, tt.rev)
			}
		})
	}
	// The revision is derived from content and ancestry: the same inputs give the same
	// revision, and the same body after another ancestor gives another.
	if again := newRev(t, rev1, body2); again != rev2 {
		t.Errorf("NewRev not deterministic: %s then %s", rev2, again)
	}
	_, h2, _ := schema.ParseRev(rev2)
	_, h3, _ := schema.ParseRev(rev3)
	if h2 == h3 {
		t.Errorf("same body after different revisions gives the same hash %s", h2)
	}
	if _, err := schema.NewRev("not-a-rev", body1); !errors.Is(err, schema.ErrBadRev) {
		t.Errorf("NewRev(bad prev) error %v, want ErrBadRev", err)
	}
}

func TestParseRev(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name     string
		in       string
		wantGen  int
		wantHash string
		wantErr  bool
	}{
		{name: "first", in: "1-" + hash, wantGen: 1, wantHash: hash},
		{name: "large generation", in: "1234567890-" + hash, wantGen: 1234567890, wantHash: hash},
		{name: "generation zero", in: "0-" + hash, wantErr: true},
		{name: "leading zero", in: "01-" + hash, wantErr: true},
		{name: "negative", in: "-1-" + hash, wantErr: true},
		{name: "generation too long", in: "12345678901-" + hash, wantErr: true},
		{name: "upper-case hash", in: "1-" + strings.ToUpper(hash), wantErr: true},
		{name: "short hash", in: "1-" + hash[:63], wantErr: true},
		{name: "long hash", in: "1-" + hash + "0", wantErr: true},
		{name: "no generation", in: hash, wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "trailing newline", in: "1-" + hash + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen, h, err := schema.ParseRev(tt.in)
			if tt.wantErr {
				if !errors.Is(err, schema.ErrBadRev) {
					t.Errorf("ParseRev(%q) = %d, %q, %v; want ErrBadRev", tt.in, gen, h, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRev(%q): %v", tt.in, err)
			}
			if gen != tt.wantGen || h != tt.wantHash {
				t.Errorf("ParseRev(%q) = %d, %q; want %d, %q", tt.in, gen, h, tt.wantGen, tt.wantHash)
			}
		})
	}
}

func TestCheckRev(t *testing.T) {
	body1 := []byte(`{"id":"NV-abc","status":"active"}`)
	body2 := []byte(`{"id":"NV-abc","status":"concluded"}`)
	rev1 := newRev(t, "", body1)
	rev2 := newRev(t, rev1, body2)
	other := newRev(t, "", []byte(`{"id":"NV-other"}`))

	tests := []struct {
		name    string
		rec     schema.Record
		wantErr bool
	}{
		{name: "first revision", rec: schema.Record{Rev: rev1, Body: body1}},
		{name: "second revision", rec: schema.Record{Rev: rev2, PrevRev: rev1, Body: body2}},
		{name: "tampered body", rec: schema.Record{Rev: rev2, PrevRev: rev1, Body: []byte(`{"id":"NV-abc","status":"terminated"}`)}, wantErr: true},
		{name: "body re-encoded with a space", rec: schema.Record{Rev: rev1, Body: []byte(`{"id": "NV-abc","status":"active"}`)}, wantErr: true},
		{name: "tampered prev", rec: schema.Record{Rev: rev2, PrevRev: other, Body: body2}, wantErr: true},
		{name: "prev dropped", rec: schema.Record{Rev: rev2, Body: body2}, wantErr: true},
		{name: "prev added", rec: schema.Record{Rev: rev1, PrevRev: other, Body: body1}, wantErr: true},
		{name: "generation changed", rec: schema.Record{Rev: "3" + rev2[1:], PrevRev: rev1, Body: body2}, wantErr: true},
		{name: "malformed prev", rec: schema.Record{Rev: rev2, PrevRev: "garbage", Body: body2}, wantErr: true},
		{name: "malformed rev", rec: schema.Record{Rev: "garbage", Body: body1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rec.CheckRev()
			if tt.wantErr {
				if !errors.Is(err, schema.ErrBadRev) {
					t.Errorf("CheckRev() error %v, want ErrBadRev", err)
				}
				return
			}
			if err != nil {
				t.Errorf("CheckRev(): %v", err)
			}
		})
	}
}

func TestProgramOfID(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "MI", in: "MI-0123456789abcdef", want: "MI"},
		{name: "FED", in: "FED-abc", want: "FED"},
		{name: "program with digit", in: "R9-abc", want: "R9"},
		{name: "suffix with dashes and dots", in: "NV-2019.alliance-07_a", want: "NV"},
		{name: "longest suffix", in: "NV-" + strings.Repeat("a", 64), want: "NV"},
		{name: "suffix too long", in: "NV-" + strings.Repeat("a", 65), wantErr: true},
		{name: "no dash", in: "MI0123", wantErr: true},
		{name: "empty suffix", in: "MI-", wantErr: true},
		{name: "suffix starts with a dash", in: "MI--abc", wantErr: true},
		{name: "lower-case program", in: "mi-abc", wantErr: true},
		{name: "one-letter program", in: "M-abc", wantErr: true},
		{name: "slash in suffix", in: "MI-a/b", wantErr: true},
		{name: "space in suffix", in: "MI-a b", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ProgramOfID(tt.in)
			if tt.wantErr {
				if !errors.Is(err, schema.ErrBadID) {
					t.Errorf("ProgramOfID(%q) = %q, %v; want ErrBadID", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ProgramOfID(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ProgramOfID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	// 80 random bits in 16 Crockford base32 characters, so two nodes never collide.
	shape := regexp.MustCompile(`^[0-9abcdefghjkmnpqrstvwxyz]{16}$`)
	for _, program := range []string{"FED", "MI", "NV"} {
		t.Run(program, func(t *testing.T) {
			seen := map[string]bool{}
			for range 1000 {
				id := schema.NewID(program)
				prefix, suffix, _ := strings.Cut(id, "-")
				if prefix != program || !shape.MatchString(suffix) {
					t.Fatalf("NewID(%s) = %q, want %s- and 16 base32 characters", program, id, program)
				}
				if got, err := schema.ProgramOfID(id); err != nil || got != program {
					t.Fatalf("ProgramOfID(%q) = %q, %v", id, got, err)
				}
				if seen[id] {
					t.Fatalf("NewID(%s) repeated %q", program, id)
				}
				seen[id] = true
			}
		})
	}
}

func TestAllianceBody(t *testing.T) {
	// The body excludes the revision, which is derived from the body.
	a := &schema.Alliance{ID: "MI-abc", Rev: "1-" + strings.Repeat("a", 64), Program: "MI", Level: schema.LevelState,
		Status: schema.StatusActive, TermMonths: 36, SignedOn: schema.MustDate("2023-05-01"), ExpiresOn: schema.MustDate("2026-05-01")}
	body, err := schema.AllianceBody(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["rev"]; ok {
		t.Errorf("body %s holds rev", body)
	}
	if a.Rev == "" {
		t.Error("AllianceBody cleared the caller's rev")
	}
	var back schema.Alliance
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	want := *a
	want.Rev = ""
	if diff := cmp.Diff(&want, &back); diff != "" {
		t.Errorf("body round trip (-want +got):\n%s", diff)
	}
	// Two revisions of the same content give the same body, hence the same next rev.
	b := *a
	b.Rev = "2-" + strings.Repeat("b", 64)
	body2, err := schema.AllianceBody(&b)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(body2) {
		t.Errorf("body depends on rev:\n%s\n%s", body, body2)
	}
}
