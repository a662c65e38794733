package trainer

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestOpsMatchGorgonia checks that every case of TestGradients gives the
// same output and gradients with the custom ops as with gorgonia's own
// (in float64, so any difference beyond rounding is a bug).
func TestOpsMatchGorgonia(t *testing.T) {
	for _, tc := range gradCases() {
		t.Run(tc.name, func(t *testing.T) {
			fast, stock := buildCase(t, tc, fastOps), buildCase(t, tc, stockOps)
			fast.run(t)
			stock.run(t)
			worst := maxAbsDiff(floats(fast.out.Value()), floats(stock.out.Value()))
			fg, sg := fast.grads(t), stock.grads(t)
			for i := range fg {
				worst = max(worst, maxAbsDiff(fg[i], sg[i]))
			}
			t.Logf("max |custom - gorgonia| over the output and %d gradients: %.2g", len(fg), worst)
			if worst > 1e-12 {
				t.Errorf("custom ops differ from gorgonia's by %g", worst)
			}
		})
	}
}

// floats returns a float64 value's data as a slice, a scalar as one value.
func floats(v G.Value) []float64 {
	if d, ok := v.Data().(float64); ok {
		return []float64{d}
	}
	return v.Data().([]float64)
}

func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(a[i]-b[i]))
	}
	return worst
}
