//go:build race

package heifwasm

// raceEnabled: the race detector slows wazero's compiler tenfold, so the
// tests run without it (scripts/test.sh).
const raceEnabled = true
