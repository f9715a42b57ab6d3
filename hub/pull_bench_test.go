package hub_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// loadedHub is a hub holding n NV records, pushed in full batches.
func loadedHub(b *testing.B, n int) *hubtest.Hub {
	b.Helper()
	h := hubtest.StartHub(b, nil)
	key, _ := auth.GenerateKey()
	h.Enroll(b, "NV", key)
	token := hubtest.Token(b, key, auth.RoleProgram, "NV")
	for seq := uint64(0); seq < uint64(n); {
		first := seq + 1
		records := make([]string, 0, wire.MaxBatchRecords)
		for len(records) < wire.MaxBatchRecords && seq < uint64(n) {
			seq++
			records = append(records, record(b, key, "NV", schema.NewID("NV"), seq, nil))
		}
		bt := &wire.Batch{Program: "NV", BatchID: fmt.Sprint(first), SeqFrom: first, SeqTo: seq, IssuedAt: time.Now(), Records: records}
		jws, err := wire.SignBatch(key, bt)
		if err != nil {
			b.Fatal(err)
		}
		if resp, out := pushRaw(b, h, token, wire.MediaTypeJOSE, []byte(jws)); resp.StatusCode != http.StatusOK {
			b.Fatalf("push: %d %s", resp.StatusCode, out)
		}
	}
	return h
}

// BenchmarkPull measures a node pulling the whole national feed into an empty replica:
// the hub's pages over HTTP, the keys document, every record's signature and revision
// hash checked, each page fsync'd to the node's store and reconciled into its replica.
func BenchmarkPull(b *testing.B) {
	const n = 10_000
	h := loadedHub(b, n)
	for b.Loop() {
		b.StopTimer()
		mi := hubtest.StartNode(b, h, "MI")
		b.StartTimer()
		res, err := mi.Sync(b.Context())
		if err != nil || res.Pulled != n {
			b.Fatalf("sync = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkIdleSync measures a sync with nothing to do by a node whose replica holds
// 10,000 records: the cost of the nightly run when nothing changed.
func BenchmarkIdleSync(b *testing.B) {
	h := loadedHub(b, 10_000)
	mi := hubtest.StartNode(b, h, "MI", func(c *node.Config) { c.BackstopEvery = -1 })
	if _, err := mi.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res, err := mi.Sync(b.Context()); err != nil || res != (wire.SyncResult{}) {
			b.Fatalf("idle sync = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/sync")
}

// BenchmarkBackstop measures a digest comparison that finds no drift, for a node whose
// replica holds 10,000 records of another program.
func BenchmarkBackstop(b *testing.B) {
	h := loadedHub(b, 10_000)
	mi := hubtest.StartNode(b, h, "MI")
	if _, err := mi.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		resp, body := hubtest.Do(b, http.MethodPost, mi.URL+"/v1/sync?backstop=true", mi.Token, nil)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("backstop: %d %s", resp.StatusCode, body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/backstop")
}
