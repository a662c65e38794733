//go:build unix

package sgemm

import "syscall"

// cpuSeconds is the CPU time (user and system) this process has used. The
// benchmarks divide work by it as well as by wall time: on a machine shared
// with other jobs the wall time swings with their load, the CPU time of a
// one-thread product much less.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
