//go:build !unix

package cputime

import "time"

// Process is the CPU time this process has used so far; not known on this system.
func Process() (time.Duration, bool) { return 0, false }
