package hub

// A fuzz target for the push path (ingest.go) against a real hub in a temporary
// directory with enrolled program keys. Seeds are added in code and kept in
// testdata/fuzz/FuzzPush/; run it with `go test -run=^$ -fuzz=^FuzzPush$ -fuzztime=60s ./hub`.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
)

// fuzzNow is the hub's clock in FuzzPush: fixed, so signed seeds never fall out of the
// clock-skew window.
var fuzzNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// fuzzKey is an Ed25519 key from a fixed seed, so seeds signed with it stay valid.
func fuzzKey(f *testing.F, seed byte) *auth.Key {
	f.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	data, err := jose.JSONWebKey{Key: priv}.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "key.jwk")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		f.Fatal(err)
	}
	k, err := auth.LoadKey(path)
	if err != nil {
		f.Fatal(err)
	}
	return k
}

// fuzzAllianceBody is a valid body of an Alliance of program code, signed on signed
// ("" for a draft).
func fuzzAllianceBody(f *testing.F, def *schema.Program, id, signed, office string) []byte {
	f.Helper()
	a := &schema.Alliance{ID: id, Office: office, Participants: []schema.Participant{{Name: "Fuzz Association"}}}
	if signed != "" {
		a.SignedOn = schema.MustDate(signed)
	}
	for _, c := range def.Categories {
		a.Goals = append(a.Goals, schema.Goal{Category: c.Code})
	}
	a.Normalize(def)
	if err := a.Validate(def); err != nil {
		f.Fatal(err)
	}
	body, err := schema.AllianceBody(a)
	if err != nil {
		f.Fatal(err)
	}
	return body
}

// fuzzRecordPayload is the payload of a record revision of body, its rev computed.
func fuzzRecordPayload(f *testing.F, kind schema.Kind, id, prev string, seq uint64, body []byte) ([]byte, string) {
	f.Helper()
	rev, err := schema.NewRev(prev, body)
	if err != nil {
		f.Fatal(err)
	}
	rec := schema.Record{ID: id, Kind: kind, Program: "MI", Rev: rev, PrevRev: prev, Seq: seq, IssuedAt: fuzzNow.Add(-time.Minute), Body: body}
	payload, err := json.Marshal(&rec)
	if err != nil {
		f.Fatal(err)
	}
	return payload, rev
}

// fixRecord makes a record payload that decodes as a record into one whose rev matches
// its (re-encoded) body, prev_rev and resolves, so that fuzzed records reach the checks
// behind the revision hash. Other payloads are returned as they are.
func fixRecord(payload []byte) []byte {
	var rec schema.Record
	if json.Unmarshal(payload, &rec) != nil {
		return payload
	}
	out, err := json.Marshal(&rec) // the body as encoding/json writes it, as it will be sent
	if err != nil || json.Unmarshal(out, &rec) != nil {
		return payload
	}
	if rev, err := schema.NewRevResolving(rec.PrevRev, rec.Body, rec.Resolves); err == nil {
		rec.Rev = rev
	}
	if out, err = json.Marshal(&rec); err != nil {
		return payload
	}
	return out
}

// pushState is what a push may change: the program's sync position and counts, and the
// hub's journal head.
type pushState struct {
	Checkpoint uint64
	Records    int
	Head       uint64
	Outcomes   map[wire.Outcome]uint64
	LastSeq    uint64
}

func pushStateOf(t *testing.T, h *Hub, program string) pushState {
	t.Helper()
	var s pushState
	for _, p := range h.Programs() {
		if p.Code == program {
			s = pushState{Checkpoint: p.Sync.Checkpoint, Records: p.Sync.Records, Head: p.Sync.Head, Outcomes: p.Sync.Outcomes}
		}
	}
	if err := h.journal.View(func(tx *journal.Tx) error {
		s.LastSeq = tx.LastSeq()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// pushedBatch reads back the batch a push accepted, and the id and rev each of its
// records claims.
func pushedBatch(t *testing.T, body []byte) (wire.Batch, []schema.Record) {
	t.Helper()
	payload, _, err := auth.UnverifiedPayload(string(bytes.TrimSpace(body)))
	if err != nil {
		t.Fatalf("accepted push %q is not a JWS: %v", body, err)
	}
	var b wire.Batch
	if err := json.Unmarshal(payload, &b); err != nil {
		t.Fatalf("accepted batch %q does not decode: %v", payload, err)
	}
	recs := make([]schema.Record, len(b.Records))
	for i, jws := range b.Records {
		if p, _, err := auth.UnverifiedPayload(jws); err == nil {
			json.Unmarshal(p, &recs[i])
		}
	}
	return b, recs
}

// FuzzPush pushes arbitrary bodies to a hub with MI and NV enrolled, as MI: as they
// are (mode 0), as a batch payload signed with MI's enrolled key (mode 1), or as two
// record payloads, their revs fixed up, signed with MI's key into a batch (mode 2), so
// the fuzzer reaches past every signature into record decoding and validation.
//
// A refused push answers a 4xx problem (never a 500) and changes nothing but the
// program's last error. An accepted push answers each record in order, rejections with
// a reason; advances the checkpoint to seq_to; counts each outcome; journals exactly
// the revisions it stores, each then in the store; and, pushed again, changes nothing:
// every record it stored or already held is a duplicate.
func FuzzPush(f *testing.F) {
	hubKey, miKey, nvKey := fuzzKey(f, 10), fuzzKey(f, 11), fuzzKey(f, 12)
	h, err := New(Config{Key: hubKey, DataDir: filepath.Join(f.TempDir(), "hub"), Now: func() time.Time { return fuzzNow }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close() })
	for code, k := range map[string]*auth.Key{"MI": miKey, "NV": nvKey} {
		jwk, _ := json.Marshal(k.PublicJWK())
		if _, _, err := h.Enroll(Enrollment{Code: code, JWK: jwk}); err != nil {
			f.Fatal(err)
		}
	}
	mi, _ := h.catalog.Get("MI")

	const id, draftID = "MI-fuzz0000000000001", "MI-fuzz0000000000002"
	active, rev1 := fuzzRecordPayload(f, schema.KindAlliance, id, "", 1, fuzzAllianceBody(f, mi, id, "2025-06-01", ""))
	edited, _ := fuzzRecordPayload(f, schema.KindAlliance, id, rev1, 2, fuzzAllianceBody(f, mi, id, "2025-06-01", "Lansing"))
	branch, _ := fuzzRecordPayload(f, schema.KindAlliance, id, rev1, 3, fuzzAllianceBody(f, mi, id, "2025-06-01", "Detroit"))
	draft, draftRev := fuzzRecordPayload(f, schema.KindAlliance, draftID, "", 4, fuzzAllianceBody(f, mi, draftID, "", ""))
	tomb, _ := fuzzRecordPayload(f, schema.KindTombstone, draftID, draftRev, 5, []byte(`{"id":"`+draftID+`","deleted":true,"reason":"never signed"}`))
	report, _ := fuzzRecordPayload(f, schema.KindReport, id+".2025-Q3", "", 6, []byte(`{"id":"`+id+`.2025-Q3","program":"MI","alliance_id":"`+id+`","period":"2025-Q3","reported_on":"2025-10-20","team_members":["A"],"meetings":[],"events":[],"products":[],"activities":[{"type":"training","reached":12}],"milestones":[]}`))

	sign := func(k *auth.Key, payload []byte, typ string) string {
		jws, err := k.Sign(payload, typ)
		if err != nil {
			f.Fatal(err)
		}
		return jws
	}
	batchOf := func(k *auth.Key, program string, seqFrom, seqTo uint64, payloads ...[]byte) []byte {
		b := wire.Batch{Program: program, BatchID: "fuzz-seed", SeqFrom: seqFrom, SeqTo: seqTo, IssuedAt: fuzzNow, Head: seqTo}
		for _, p := range payloads {
			b.Records = append(b.Records, sign(k, p, auth.TypeRecord))
		}
		payload, _ := json.Marshal(&b)
		return payload
	}
	// Mode 0: whole signed pushes, good and bad.
	f.Add([]byte(sign(miKey, batchOf(miKey, "MI", 1, 2, active, edited), auth.TypeBatch)), []byte(nil), uint8(0))
	f.Add([]byte(sign(miKey, batchOf(miKey, "MI", 3, 6, branch, draft, tomb, report), auth.TypeBatch)), []byte(nil), uint8(0))
	f.Add([]byte(sign(nvKey, batchOf(nvKey, "NV", 1, 1, active), auth.TypeBatch)), []byte(nil), uint8(0))
	f.Add([]byte(sign(miKey, batchOf(nvKey, "MI", 1, 1, active), auth.TypeBatch)), []byte(nil), uint8(0))
	f.Add([]byte(sign(miKey, batchOf(miKey, "MI", 1, 1, active), auth.TypeRecord)), []byte(nil), uint8(0))
	f.Add([]byte("  "+sign(miKey, batchOf(miKey, "MI", 2, 1, active), auth.TypeBatch)+"\n"), []byte(nil), uint8(0))
	f.Add([]byte("not a jws"), []byte(nil), uint8(0))
	// Mode 1: batch payloads, signed by the fuzz target.
	f.Add(batchOf(miKey, "MI", 1, 6, active, edited, branch, draft, tomb, report), []byte(nil), uint8(1))
	f.Add([]byte(`{"program":"MI","batch_id":"b","seq_from":1,"seq_to":1,"issued_at":"2026-03-02T12:00:00Z","records":["x.y.z"]}`), []byte(nil), uint8(1))
	f.Add([]byte(`{"program":"MI","batch_id":"b","seq_from":1,"seq_to":1,"issued_at":"2026-03-02T11:50:00Z","records":[]}`), []byte(nil), uint8(1))
	// Mode 2: record payloads, each signed, in a batch signed by the fuzz target.
	f.Add(active, edited, uint8(2))
	f.Add(draft, tomb, uint8(2))
	f.Add(tomb, draft, uint8(2))
	f.Add(branch, report, uint8(2))
	f.Add([]byte(`{"id":"MI-x","kind":"alliance","program":"MI","seq":1,"issued_at":"2026-03-02T12:00:00Z","body":{"id":"MI-x","participants":[{"name":"A"}],"goals":[],"status":"draft","level":"state","term_months":36}}`), []byte(nil), uint8(2))

	caller := &auth.Claims{Role: auth.RoleProgram, Program: "MI"}
	f.Fuzz(func(t *testing.T, body, record []byte, mode uint8) {
		switch mode % 3 {
		case 1:
			jws, err := miKey.Sign(body, auth.TypeBatch)
			if err != nil {
				t.Fatal(err)
			}
			body = []byte(jws)
		case 2:
			b := wire.Batch{Program: "MI", BatchID: "fuzz", IssuedAt: fuzzNow}
			for _, p := range [][]byte{body, record} {
				if len(p) == 0 {
					continue
				}
				p = fixRecord(p)
				var rec schema.Record
				if json.Unmarshal(p, &rec) == nil && rec.Seq > 0 {
					if b.SeqFrom == 0 || rec.Seq < b.SeqFrom {
						b.SeqFrom = rec.Seq
					}
					b.SeqTo = max(b.SeqTo, rec.Seq)
				}
				jws, err := miKey.Sign(p, auth.TypeRecord)
				if err != nil {
					t.Fatal(err)
				}
				b.Records = append(b.Records, jws)
			}
			b.SeqFrom = max(b.SeqFrom, 1)
			b.SeqTo = max(b.SeqTo, b.SeqFrom)
			payload, err := json.Marshal(&b)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := miKey.Sign(payload, auth.TypeBatch)
			if err != nil {
				t.Fatal(err)
			}
			body = []byte(jws)
		}

		before := pushStateOf(t, h, "MI")
		resp, err := h.Push(caller, body)
		after := pushStateOf(t, h, "MI")
		if err != nil {
			if p := pushProblem(err); p == nil || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("push refused with %v, which answers %+v: not a 4xx problem", err, p)
			}
			if !equalState(before, after) {
				t.Fatalf("a refused push (%v) changed the hub: %+v, then %+v", err, before, after)
			}
			return
		}

		b, recs := pushedBatch(t, body)
		if len(resp.Results) != len(b.Records) || resp.BatchID != b.BatchID {
			t.Fatalf("batch %s of %d records answered %s with %d results", b.BatchID, len(b.Records), resp.BatchID, len(resp.Results))
		}
		if want := max(before.Checkpoint, b.SeqTo); resp.Checkpoint != want || after.Checkpoint != want {
			t.Fatalf("checkpoint %d (answered %d), want %d", after.Checkpoint, resp.Checkpoint, want)
		}
		counts := map[wire.Outcome]uint64{}
		var stored uint64
		for i, r := range resp.Results {
			counts[r.Outcome]++
			switch r.Outcome {
			case wire.Rejected:
				if r.Reason == "" {
					t.Fatalf("record %d rejected without a reason", i)
				}
				continue
			case wire.Accepted, wire.Conflict, wire.Stale:
				stored++
			case wire.Duplicate:
			default:
				t.Fatalf("record %d: outcome %q", i, r.Outcome)
			}
			if r.ID != recs[i].ID || r.Rev != recs[i].Rev || r.Seq != recs[i].Seq || r.Seq < b.SeqFrom || r.Seq > b.SeqTo {
				t.Fatalf("record %d (%s %s seq %d) answered as %+v in batch %d..%d", i, recs[i].ID, recs[i].Rev, recs[i].Seq, r, b.SeqFrom, b.SeqTo)
			}
			if got, err := revisionOf(h.db.Txn(false), r.ID, r.Rev); err != nil || got == nil {
				t.Fatalf("record %s %s answered %s, but the hub does not hold it", r.ID, r.Rev, r.Outcome)
			}
		}
		for o, n := range counts {
			if after.Outcomes[o] != before.Outcomes[o]+n {
				t.Fatalf("outcome %s counted %d, then %d, for %d in this push", o, before.Outcomes[o], after.Outcomes[o], n)
			}
		}
		if after.LastSeq != before.LastSeq+stored {
			t.Fatalf("journal head %d, then %d, for %d revisions stored", before.LastSeq, after.LastSeq, stored)
		}

		again, err := h.Push(caller, body)
		if err != nil {
			t.Fatalf("the same push again is refused: %v", err)
		}
		for i, r := range again.Results {
			if first := resp.Results[i].Outcome; first != wire.Rejected && r.Outcome != wire.Duplicate {
				t.Fatalf("record %d, %s the first time, is %s the second: %+v", i, first, r.Outcome, r)
			}
		}
	})
}

// equalState compares what a refused push must leave alone.
func equalState(a, b pushState) bool {
	return a.Checkpoint == b.Checkpoint && a.Records == b.Records && a.Head == b.Head &&
		a.LastSeq == b.LastSeq && maps.Equal(a.Outcomes, b.Outcomes)
}
