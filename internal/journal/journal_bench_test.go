package journal_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/alliancehub/alliancehub/internal/cputime"
	"github.com/alliancehub/alliancehub/internal/journal"
)

// BenchmarkAppend is the hub's durable append (issue 7): record-sized entries appended
// to the log, per commits of 1 (an fsync per entry) and of a full batch of 500, and
// of a group of 8 batches (group commit). It reports entries/s, the CPU time (user and
// system) per entry, which the fsync's wait does not count, and the file's bytes per
// entry.
func BenchmarkAppend(b *testing.B) {
	for _, per := range []int{1, 500, 4000} {
		b.Run(fmt.Sprintf("per-commit=%d", per), func(b *testing.B) {
			dir := b.TempDir()
			s, err := journal.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			values := make([][]byte, 64)
			for i := range values {
				values[i] = []byte(recordValue(rng, i, 1400))
			}
			n := 0
			cpu, _ := cputime.Process()
			for b.Loop() {
				err := s.Update(func(tx *journal.Tx) error {
					for range per {
						v := values[n%len(values)]
						if _, err := tx.Append(func(uint64) ([]byte, error) { return v, nil }); err != nil {
							return err
						}
						n++
					}
					return tx.Put("programs", "NV", []byte(`{"code":"NV","checkpoint":1}`))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			now, _ := cputime.Process()
			cpu = now - cpu
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(cpu.Seconds()*1e6/float64(n), "cpu-µs/entry")
			if fi, err := os.Stat(filepath.Join(dir, journal.FileName)); err == nil {
				b.ReportMetric(float64(fi.Size())/float64(n), "file-B/entry")
			}
		})
	}
}
