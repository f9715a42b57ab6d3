//go:build !unix

package journal_test

import "time"

// cpuTime is not measured here: BenchmarkAppend's CPU metric reads 0.
func cpuTime() time.Duration { return 0 }
