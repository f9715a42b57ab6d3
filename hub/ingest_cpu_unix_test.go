//go:build unix

package hub_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system, as the kernel counts
// it: on a shared machine it is what the hub's work costs, whatever else runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
