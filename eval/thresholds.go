package eval

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
)

// Thresholds says how well a distance threshold tells an image's copies
// from other images: over every (query, gallery) pair, a pair is a copy
// when their labels match (a transformed copy and its original), and
// "near-duplicate" when their Euclidean distance is at most the threshold.
type Thresholds struct {
	Copies int `json:"copy_pairs"`
	Others int `json:"other_pairs"`
	// Sweep gives precision and recall at distances 0.05 to 1.5 in steps
	// of 0.05, and at any asked for (ThresholdOptions.At).
	Sweep []ThresholdPoint `json:"sweep"`
	// Target is the precision asked for, and Calibrated the largest
	// distance at which precision is at least Target (the one with the
	// most recall); nil when no threshold reaches it.
	Target     float64         `json:"target_precision"`
	Calibrated *ThresholdPoint `json:"calibrated,omitempty"`
}

// ThresholdPoint is precision and recall at a distance.
type ThresholdPoint struct {
	Distance  float64 `json:"distance"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// ThresholdOptions asks for a copy-detection threshold report.
type ThresholdOptions struct {
	// Target is the precision to calibrate for, e.g. 0.99.
	Target float64
	// At adds these distances to the sweep.
	At []float64
}

// copyThresholds computes the report over every pair of a query and a
// gallery image whose label is known (>= 0).
func copyThresholds(queries [][]float32, qLabels []int, gallery [][]float32, gLabels []int, o ThresholdOptions) *Thresholds {
	type pair struct {
		d    float64
		copy bool
	}
	var pairs []pair
	for qi, q := range queries {
		if qLabels[qi] < 0 {
			continue
		}
		for gi, g := range gallery {
			pairs = append(pairs, pair{math.Sqrt(float64(SquaredDistance(q, g))), gLabels[gi] == qLabels[qi]})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(a.d, b.d) })
	t := &Thresholds{Target: o.Target}
	for _, p := range pairs {
		if p.copy {
			t.Copies++
		} else {
			t.Others++
		}
	}
	// at gives precision and recall over the pairs nearer than or at d;
	// with none, precision is 1 (nothing flagged, nothing wrong).
	at := func(d float64) ThresholdPoint {
		n, _ := slices.BinarySearchFunc(pairs, d, func(p pair, d float64) int {
			if p.d <= d {
				return -1
			}
			return 1
		})
		tp := 0
		for _, p := range pairs[:n] {
			if p.copy {
				tp++
			}
		}
		pt := ThresholdPoint{Distance: d, Precision: 1}
		if n > 0 {
			pt.Precision = float64(tp) / float64(n)
		}
		if t.Copies > 0 {
			pt.Recall = float64(tp) / float64(t.Copies)
		}
		return pt
	}
	ds := slices.Clone(o.At)
	for i := 1; i <= 30; i++ {
		ds = append(ds, float64(i)*0.05)
	}
	slices.Sort(ds)
	for _, d := range slices.Compact(ds) {
		t.Sweep = append(t.Sweep, at(d))
	}
	tp := 0
	for i, p := range pairs {
		if p.copy {
			tp++
		}
		// A threshold can only sit where the next pair is farther.
		if i+1 < len(pairs) && pairs[i+1].d == p.d {
			continue
		}
		if prec := float64(tp) / float64(i+1); prec >= o.Target && p.copy {
			t.Calibrated = &ThresholdPoint{Distance: p.d, Precision: prec, Recall: float64(tp) / float64(max(t.Copies, 1))}
		}
	}
	return t
}

// write prints the report as text lines, or as a markdown table.
func (t *Thresholds) write(w io.Writer, method string, markdown bool) {
	cal := fmt.Sprintf("no distance reaches precision %.2f", t.Target)
	if c := t.Calibrated; c != nil {
		cal = fmt.Sprintf("precision %.4f up to distance %.4f, recall %.4f there", c.Precision, c.Distance, c.Recall)
	}
	fmt.Fprintf(w, "\ncopy-detection thresholds (%s): %d copy pairs, %d other pairs; %s\n", method, t.Copies, t.Others, cal)
	if markdown {
		fmt.Fprintf(w, "\n| distance | precision | recall |\n|---|---|---|\n")
	} else {
		fmt.Fprintf(w, "distance  precision  recall\n")
	}
	for _, p := range t.Sweep {
		if markdown {
			fmt.Fprintf(w, "| %.4f | %.4f | %.4f |\n", p.Distance, p.Precision, p.Recall)
		} else {
			fmt.Fprintf(w, "%-8.4f  %-9.4f  %.4f\n", p.Distance, p.Precision, p.Recall)
		}
	}
}
