//go:build unix

package cputime

import "syscall"

// Seconds is the CPU time (user and system) this process has used, or 0
// if it cannot be read.
func Seconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
