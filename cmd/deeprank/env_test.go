package main

import (
	"os"
	"testing"

	"github.com/deeprank/deeprank/internal/fixture"
)

// benchDir is DEEPRANK_BENCH_DIR as the tests were started with: a folder
// that keeps the benchmarks' stores between runs, read before TestMain
// clears the DEEPRANK_* variables.
var benchDir string

// TestMain runs the tests without the DEEPRANK_* variables of the
// environment they are started from, which would change every default.
func TestMain(m *testing.M) {
	benchDir = os.Getenv("DEEPRANK_BENCH_DIR")
	fixture.ClearEnv("DEEPRANK_")
	os.Exit(m.Run())
}
