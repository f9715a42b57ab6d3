//go:build !unix

package hub_test

import "time"

// cpuTime is not measured here: the CPU metrics of BenchmarkIngest read 0.
func cpuTime() time.Duration { return 0 }
