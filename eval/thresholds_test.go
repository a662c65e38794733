package eval

import (
	"math"
	"testing"
)

// TestCopyThresholds checks the report on points on a line, where every
// distance is known: query q0 (label 0) lies 0.1 from its copy g0 and 0.3
// from g1, q1 (label 1) 0.2 from its copy g1 and 0.4 from g0, and q2
// (label 7, in no gallery class) is left out.
func TestCopyThresholds(t *testing.T) {
	v := func(x float32) []float32 { return []float32{x} }
	queries := [][]float32{v(0.1), v(0.2 + 0.2), v(5)}
	qLabels := []int{0, 1, -1}
	gallery := [][]float32{v(0), v(0.4 - 0.2 + 0.2)} // g0 at 0, g1 at 0.4
	gLabels := []int{0, 1}
	// distances: q0-g0 0.1 (copy), q0-g1 0.3, q1-g0 0.4, q1-g1 0 (copy)
	cases := []struct {
		name   string
		target float64
		at     []float64
		want   map[float64][2]float64 // distance: precision, recall
		cal    float64                // -1: none
	}{
		{"at 0.99", 0.99, []float64{0.02, 0.2}, map[float64][2]float64{0.02: {1, 0.5}, 0.2: {1, 1}, 0.35: {2.0 / 3, 1}, 0.5: {0.5, 1}}, 0.1},
		{"at 0.6", 0.6, []float64{0.31}, map[float64][2]float64{0.05: {1, 0.5}, 0.31: {2.0 / 3, 1}}, 0.1},
		{"unreachable", 1.1, nil, map[float64][2]float64{1.5: {0.5, 1}}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := copyThresholds(queries, qLabels, gallery, gLabels, ThresholdOptions{Target: c.target, At: c.at})
			if r.Copies != 2 || r.Others != 2 {
				t.Fatalf("%d copy and %d other pairs, want 2 and 2", r.Copies, r.Others)
			}
			for d, pr := range c.want {
				found := false
				for _, p := range r.Sweep {
					if math.Abs(p.Distance-d) < 1e-9 {
						found = true
						if math.Abs(p.Precision-pr[0]) > 1e-9 || math.Abs(p.Recall-pr[1]) > 1e-9 {
							t.Errorf("at %g: precision %g recall %g, want %g %g", d, p.Precision, p.Recall, pr[0], pr[1])
						}
					}
				}
				if !found {
					t.Errorf("no sweep point at %g", d)
				}
			}
			switch {
			case c.cal < 0 && r.Calibrated != nil:
				t.Errorf("calibrated at %g, want none", r.Calibrated.Distance)
			case c.cal >= 0 && (r.Calibrated == nil || math.Abs(r.Calibrated.Distance-c.cal) > 1e-6):
				t.Errorf("calibrated %+v, want distance %g", r.Calibrated, c.cal)
			}
		})
	}
}
