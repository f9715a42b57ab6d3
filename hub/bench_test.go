package hub_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
)

// BenchmarkVerifyEd25519 is the physical limit of ingest: one Ed25519 verification of a
// record-sized message per record, on one core.
func BenchmarkVerifyEd25519(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 900)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkPush measures the hub's end-to-end ingest of full batches through its HTTP
// API: batch and record verification, hash checks, validation, reconciliation and one
// fsync'd journal commit per batch.
func BenchmarkPush(b *testing.B) {
	h := hubtest.StartHub(b, nil)
	key, _ := auth.GenerateKey()
	h.Enroll(b, "NV", key)
	token := hubtest.Token(b, key, auth.RoleProgram, "NV")
	const perBatch = wire.MaxBatchRecords
	seq := uint64(0)
	makeBatch := func() []byte {
		records := make([]string, perBatch)
		first := seq + 1
		for i := range records {
			seq++
			records[i] = record(b, key, "NV", schema.NewID("NV"), seq, nil)
		}
		bt := &wire.Batch{Program: "NV", BatchID: fmt.Sprint(first), SeqFrom: first, SeqTo: seq, IssuedAt: time.Now(), Records: records}
		jws, err := wire.SignBatch(key, bt)
		if err != nil {
			b.Fatal(err)
		}
		return []byte(jws)
	}
	batches := make([][]byte, 0, 64)
	for b.Loop() {
		b.StopTimer()
		if len(batches) == 0 {
			for range 8 {
				batches = append(batches, makeBatch())
			}
		}
		body := batches[0]
		batches = batches[1:]
		b.StartTimer()
		resp, out := pushRaw(b, h, token, wire.MediaTypeJOSE, body)
		if resp.StatusCode != 200 {
			b.Fatalf("push: %d %s", resp.StatusCode, out)
		}
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "records/s")
}
