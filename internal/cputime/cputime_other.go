//go:build !unix

package cputime

// Seconds is 0: CPU time is not read on this system, and benchmarks report
// wall time only.
func Seconds() float64 { return 0 }
