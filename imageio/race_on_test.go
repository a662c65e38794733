//go:build race

package imageio

// raceEnabled: the race detector slows decoding about tenfold, so the
// camera-photo test takes one photo's variants (scripts/test.sh runs it
// whole without the detector).
const raceEnabled = true
