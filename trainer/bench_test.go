package trainer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/model"
)

// BenchmarkForward measures the fast forward pass beside gorgonia's forward
// pass for the same spec and weights, in one run; compare the images/s.
func BenchmarkForward(b *testing.B) {
	const batch = 32
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		b.Fatal(err)
	}
	m.Initialize(1)
	x := randomInput(rand.New(rand.NewPCG(1, 1)), batch*m.Spec.InputSize*m.Spec.InputSize*3)
	b.Run("engine=fast", func(b *testing.B) {
		net, err := model.NewNet(m, nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			net.Forward(x, batch)
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("engine=fast-1worker", func(b *testing.B) {
		net, err := model.NewNet(m, &model.NetOptions{Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			net.Forward(x, batch)
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("engine=gorgonia", func(b *testing.B) {
		gf, err := newGraphForward(m, batch)
		if err != nil {
			b.Fatal(err)
		}
		defer gf.Close()
		for b.Loop() {
			if _, err := gf.Forward(x); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	})
}

// BenchmarkTrainStep measures training throughput in triplets/s: filling
// an augmented batch, the gorgonia forward and backward pass and the
// optimiser update, for the default spec; with the batch in one shard and
// in two that run in parallel (compare the triplets/s side by side).
func BenchmarkTrainStep(b *testing.B) {
	classes := mustClassImages(b, 4, 16)
	for _, bc := range []struct {
		mining string
		shards int
	}{{"semihard", 1}, {"semihard", 2}, {"semihard", 4}} {
		b.Run(fmt.Sprintf("mining=%s/shards=%d", bc.mining, bc.shards), func(b *testing.B) {
			mining := bc.mining
			o := testOptions(b, classes)
			o.Model = model.DefaultSpec()
			o.BatchSize = 48
			o.BatchShards = bc.shards
			o.Mining = mining
			r := prepareRun(b, o)
			src := r.src
			ts := src.epochTriplets(o, 0)
			x := r.x
			step := 0
			for b.Loop() {
				batch := make([]dataset.Triplet, o.BatchSize)
				for i := range batch {
					batch[i] = ts[(step*o.BatchSize+i)%len(ts)]
				}
				r.filler.fill(batch, x, &o.Augment, uint64(step))
				if mining != "none" {
					mineNegatives(r.net, x, src.batchLabels(batch), o.BatchSize, mining)
				}
				if _, err := r.step(uint64(step), 1); err != nil {
					b.Fatal(err)
				}
				step++
			}
			b.ReportMetric(float64(b.N*o.BatchSize)/b.Elapsed().Seconds(), "triplets/s")
		})
	}
}
