package trainer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// BenchmarkForward measures the fast forward pass beside gorgonia's forward
// pass for the same spec and weights, in one run; compare the images/s.
// Gorgonia runs with this build's BLAS (internal/sgemm, or OpenBLAS with
// the openblas tag) and with gonum's.
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
	// Gorgonia with this build's BLAS, then with gonum's for comparison.
	impls := []struct {
		name string
		impl G.BLAS
	}{{"build", G.WhichBLAS()}, {"gonum", gonum.Implementation{}}}
	defer G.Use(G.WhichBLAS())
	for _, im := range impls {
		b.Run("engine=gorgonia/blas="+im.name, func(b *testing.B) {
			G.Use(im.impl)
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
}

// BenchmarkTrainStep measures training throughput in triplets/s: filling
// an augmented batch, semi-hard mining, the gorgonia forward and backward
// pass and the optimiser update, for the default spec at the default
// model's batch of 48; with the batch in one shard, and in two and four
// that run in parallel (compare the triplets/s side by side). The
// mining=... cases train with the triplet loss; loss=contrastive/...
// the same with the contrastive loss (its names leave the triplet loss's
// alone, which scripts/bench-peers.sh selects).
func BenchmarkTrainStep(b *testing.B) {
	classes := mustClassImages(b, 4, 16)
	for _, loss := range []trainconfig.Loss{trainconfig.Triplet, trainconfig.Contrastive} {
		prefix := ""
		if loss != trainconfig.Triplet {
			prefix = "loss=" + string(loss) + "/"
		}
		for _, shards := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%smining=semihard/shards=%d", prefix, shards), func(b *testing.B) {
				o := testOptions(b, classes)
				o.Model = model.DefaultSpec()
				o.BatchSize = 48
				o.BatchShards = shards
				o.Mining = trainconfig.SemiHard
				o.Loss = loss
				r := prepareRun(b, o)
				ts := r.src.epochTriplets(o, 0)
				step := 0
				for b.Loop() {
					batch := make([]dataset.Triplet, o.BatchSize)
					for i := range batch {
						batch[i] = ts[(step*o.BatchSize+i)%len(ts)]
					}
					r.load(batch, uint64(step))
					if _, err := r.step(uint64(step), 1); err != nil {
						b.Fatal(err)
					}
					step++
				}
				b.ReportMetric(float64(b.N*o.BatchSize)/b.Elapsed().Seconds(), "triplets/s")
			})
		}
	}
}
