package trainer

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/deeprank/deeprank/dataset"
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

// TestTrainingMatchesGorgonia trains two copies of one model from one seed
// for 20 steps, one with the custom ops and one with gorgonia's own
// (augmentation, mining, dropout, two shards, Adam): the losses must agree
// step by step, up to float32 rounding.
func TestTrainingMatchesGorgonia(t *testing.T) {
	classes := mustClassImages(t, 3, 8)
	const steps = 20
	losses := func(ops layerOps) []float64 {
		o := testOptions(t, classes)
		o.Model = smallSpec(24) // 'same' padding on every side of the shallow branches
		o.BatchSize = 6
		o.BatchShards = 2
		r := prepareRun(t, o)
		r.close()
		r.shards = nil
		for range o.BatchShards {
			s, err := newShard(r.arch, r.m, o.BatchSize/o.BatchShards, o, ops)
			if err != nil {
				t.Fatal(err)
			}
			r.shards = append(r.shards, s)
		}
		ts := r.src.epochTriplets(o, 0)
		batch := make([]dataset.Triplet, o.BatchSize)
		var out []float64
		for step := range steps {
			for i := range batch {
				batch[i] = ts[(step*o.BatchSize+i)%len(ts)]
			}
			seed := seedFor(o.Seed, 0, step)
			r.filler.fill(batch, r.x, r.augmentFor, seed)
			mineNegatives(r.net.Forward(r.x, 3*o.BatchSize), r.net.Dim(), r.x, r.src.batchLabels(batch), o.BatchSize, o.Mining, nil, nil, 0)
			loss, err := r.step(seed, 1)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, loss)
		}
		return out
	}
	fast, stock := losses(fastOps), losses(stockOps)
	worst := 0.0
	for i := range fast {
		d := math.Abs(fast[i]-stock[i]) / math.Max(1e-3, math.Abs(stock[i]))
		worst = max(worst, d)
		if d > 1e-4 {
			t.Errorf("step %d: loss %.7f with the custom ops, %.7f with gorgonia's", i, fast[i], stock[i])
		}
	}
	if fast[0] == fast[steps-1] {
		t.Fatalf("the loss stayed at %v: the test proved nothing", fast[0])
	}
	t.Logf("losses %.4f ... %.4f; worst relative difference %.2g", fast[0], fast[steps-1], worst)
}
