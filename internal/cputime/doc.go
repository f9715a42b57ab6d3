// Package cputime reads the CPU time the process has used, so benchmarks and the bench
// command report what work costs in CPU, which other load on a shared machine does not
// distort the way it distorts wall time.
package cputime
