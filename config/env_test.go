package config

import (
	"os"
	"testing"

	"github.com/deeprank/deeprank/internal/fixture"
)

// TestMain runs the tests without the DEEPRANK_* variables of the
// environment they are started from, which would change every default.
func TestMain(m *testing.M) {
	fixture.ClearEnv("DEEPRANK_")
	os.Exit(m.Run())
}
