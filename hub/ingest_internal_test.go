package hub

// Micro benchmarks of the push path's parts (issue 7), so BenchmarkIngest's profile is
// explained: a record's signature, its decoding and checks, its reconciliation into
// memdb. The durable append is internal/journal's BenchmarkAppend.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// ingestHub is a hub with NV enrolled under key, and n signed new NV records.
func ingestHub(tb testing.TB, n int) (h *Hub, key *auth.Key, records []string) {
	tb.Helper()
	hubKey, err := auth.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	h, err = New(Config{Key: hubKey, DataDir: filepath.Join(tb.TempDir(), "hub")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	if key, err = auth.GenerateKey(); err != nil {
		tb.Fatal(err)
	}
	jwk, _ := json.Marshal(key.PublicJWK())
	if _, _, err := h.Enroll(Enrollment{Code: "NV", JWK: jwk}); err != nil {
		tb.Fatal(err)
	}
	def, _ := h.catalog.Get("NV")
	for i := range n {
		records = append(records, ingestRecord(tb, key, def, uint64(i+1)))
	}
	return h, key, records
}

// ingestRecord is a signed new Alliance of def, about a kilobyte, with a participant name
// no other record has.
func ingestRecord(tb testing.TB, k *auth.Key, def *schema.Program, seq uint64) string {
	tb.Helper()
	id := schema.NewID(def.Code)
	a := &schema.Alliance{ID: id, SignedOn: schema.MustDate("2025-06-01"),
		Participants: []schema.Participant{{Name: fmt.Sprintf("Safety Council %d", seq)}}}
	for _, c := range def.Categories {
		a.Goals = append(a.Goals, schema.Goal{Category: c.Code, Description: "Share fall-prevention training with member employers"})
	}
	a.Normalize(def)
	body, err := schema.AllianceBody(a)
	if err != nil {
		tb.Fatal(err)
	}
	rec := &schema.Record{ID: id, Kind: schema.KindAlliance, Program: def.Code, Seq: seq, IssuedAt: time.Now().UTC(), Body: body}
	if rec.Rev, err = schema.NewRev("", body); err != nil {
		tb.Fatal(err)
	}
	jws, err := wire.SignRecord(k, rec)
	if err != nil {
		tb.Fatal(err)
	}
	return jws
}

func perRecord(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCheckRecord is one record's checks as a push makes them, signature included.
func BenchmarkCheckRecord(b *testing.B) {
	h, _, records := ingestHub(b, 64)
	def, _ := h.catalog.Get("NV")
	now := h.now()
	n := 0
	for b.Loop() {
		if _, res, err := h.checkRecord(def, records[n%len(records)], now); err != nil || res.Outcome != wire.Accepted {
			b.Fatalf("check: %+v %v", res, err)
		}
		n++
	}
	perRecord(b, n)
}

// BenchmarkVerifyRecord is a record's signature check alone: the JWS parsed (auth's
// direct path for the header Key.Sign makes), the key looked up, the Ed25519 signature
// verified.
func BenchmarkVerifyRecord(b *testing.B) {
	h, _, records := ingestHub(b, 64)
	keys := programKeys{h, h.now()}
	n := 0
	for b.Loop() {
		if _, err := auth.Verify(records[n%len(records)], auth.TypeRecord, keys); err != nil {
			b.Fatal(err)
		}
		n++
	}
	perRecord(b, n)
}

// BenchmarkDecodeRecord is what a record costs after its signature: strict JSON decoding
// of the record and its body, the rev's hash, the program's validation.
func BenchmarkDecodeRecord(b *testing.B) {
	h, _, records := ingestHub(b, 64)
	def, _ := h.catalog.Get("NV")
	verified := make([]auth.Verified, len(records))
	for i, jws := range records {
		payload, kid, err := auth.UnverifiedPayload(jws)
		if err != nil {
			b.Fatal(err)
		}
		verified[i] = auth.Verified{Payload: payload, KeyID: kid}
	}
	now := h.now()
	n := 0
	for b.Loop() {
		if _, res, err := h.readRecord(def, verified[n%len(verified)], now); err != nil || res.Outcome != wire.Accepted {
			b.Fatalf("read: %+v %v", res, err)
		}
		n++
	}
	perRecord(b, n)
}

// BenchmarkApplyTxn is reconciliation: full batches of checked new revisions applied to
// memdb (applyTxn and the links), one write transaction per batch, onto a roster that
// grows as it runs.
func BenchmarkApplyTxn(b *testing.B) {
	h, _, records := ingestHub(b, wire.MaxBatchRecords)
	def, _ := h.catalog.Get("NV")
	now := h.now()
	// A fresh revision for each apply: the same payloads under new ids.
	fresh := func(i int) *revision {
		rv, res, err := h.checkRecord(def, records[i], now)
		if err != nil || rv == nil {
			b.Fatalf("check: %+v %v", res, err)
		}
		return rv
	}
	base := make([]*revision, len(records))
	for i := range records {
		base[i] = fresh(i)
	}
	n := 0
	for b.Loop() {
		b.StopTimer()
		revs := make([]*revision, len(base))
		names := make([]*nameKeys, len(base))
		for i, rv := range base {
			c := *rv
			c.RecordID = fmt.Sprintf("NV-bench%012d", n+i)
			revs[i] = &c
			names[i] = newNameKeys(&c) // made while checking the batch, outside the lock
		}
		b.StartTimer()
		txn := h.db.Txn(true)
		for i, rv := range revs {
			if err := applyRecordTxn(txn, rv, names[i], uint64(n+i+1)); err != nil {
				b.Fatal(err)
			}
		}
		txn.Commit()
		n += len(revs)
	}
	perRecord(b, n)
}

// applyRecordTxn is what applyBatchTxn does in memdb for one new revision.
func applyRecordTxn(txn *memdb.Txn, rv *revision, names *nameKeys, seq uint64) error {
	if reason := admissible(txn, rv); reason != "" {
		return fmt.Errorf("%s", reason)
	}
	rv.HubSeq = seq
	if _, err := applyTxn(txn, rv); err != nil {
		return err
	}
	return relinkKeysTxn(txn, rv.RecordID, names, nil)
}

// TestNameKeys: the name keys made while checking a batch are what relinkTxn would make
// in the write transaction, and they are used only for the revision they were made of.
func TestNameKeys(t *testing.T) {
	h, _, records := ingestHub(t, 2)
	def, _ := h.catalog.Get("NV")
	now := h.now()
	var revs []*revision
	for _, jws := range records {
		rv, res, err := h.checkRecord(def, jws, now)
		if err != nil || rv == nil {
			t.Fatalf("check: %+v %v", res, err)
		}
		revs = append(revs, rv)
	}
	names := newNameKeys(revs[0])
	keys := allianceKeys(revs[0].Alliance)
	if names == nil || len(keys) == 0 || !slices.Equal(names.keys, keyHashes(keys)) {
		t.Fatalf("newNameKeys keys %v, allianceKeys %v", names, keys)
	}
	// Applied with the keys of another revision, relinkKeysTxn makes the record's own.
	txn := h.db.Txn(true)
	defer txn.Abort()
	if err := applyRecordTxn(txn, revs[1], names, 1); err != nil {
		t.Fatal(err)
	}
	ni, err := nameIndexOf(txn)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(ni.byID[revs[1].RecordID].keys), fmt.Sprint(newNameKeys(revs[1]).keys); got != want {
		t.Fatalf("name index keys %s, want %s", got, want)
	}
	if revs[0].Alliance.Participants[0].Name == revs[1].Alliance.Participants[0].Name {
		t.Fatal("the two records share a name; the test shows nothing")
	}
}
