// Package cputime reads the CPU time this process has used, for benchmarks
// that report work per CPU-second beside work per wall-clock second: on a
// machine shared with other jobs the wall time swings with their load, the
// CPU time of a one-thread benchmark much less.
package cputime
