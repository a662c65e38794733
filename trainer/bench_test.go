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
// alone, which scripts/bench-peers.sh selects); .../memory=8192/... mines
// a full memory of 8,192 images besides (mining_memory).
func BenchmarkTrainStep(b *testing.B) {
	classes := mustClassImages(b, 4, 16)
	type variant struct {
		loss   trainconfig.Loss
		shards int
		memory int
	}
	var variants []variant
	for _, loss := range []trainconfig.Loss{trainconfig.Triplet, trainconfig.Contrastive} {
		for _, shards := range []int{1, 2, 4} {
			variants = append(variants, variant{loss, shards, 0})
		}
	}
	variants = append(variants, variant{trainconfig.Contrastive, 2, 8192})
	for _, v := range variants {
		name := fmt.Sprintf("mining=semihard/shards=%d", v.shards)
		if v.memory > 0 {
			name = fmt.Sprintf("mining=semihard/memory=%d/shards=%d", v.memory, v.shards)
		}
		if v.loss != trainconfig.Triplet {
			name = "loss=" + string(v.loss) + "/" + name
		}
		b.Run(name, func(b *testing.B) {
			o := testOptions(b, classes)
			o.Model = model.DefaultSpec()
			o.BatchSize = 48
			o.BatchShards = v.shards
			o.Mining = trainconfig.SemiHard
			o.Loss = v.loss
			o.MiningMemory = v.memory
			r := prepareRun(b, o)
			ts := r.src.epochTriplets(o, 0)
			batchAt := func(step int) []dataset.Triplet {
				batch := make([]dataset.Triplet, o.BatchSize)
				for i := range batch {
					batch[i] = ts[(step*o.BatchSize+i)%len(ts)]
				}
				return batch
			}
			if v.memory > 0 {
				fillMemory(b, r, batchAt(0))
			}
			step := 0
			for b.Loop() {
				r.load(batchAt(step), uint64(step))
				if _, err := r.step(uint64(step), 1); err != nil {
					b.Fatal(err)
				}
				step++
			}
			b.ReportMetric(float64(b.N*o.BatchSize)/b.Elapsed().Seconds(), "triplets/s")
		})
	}
}

// fillMemory fills r's mining memory with batch's images, as a run does
// after its first steps, so that every step scans a full memory.
func fillMemory(b *testing.B, r *run, batch []dataset.Triplet) {
	b.Helper()
	if err := r.setupMemory(r.filler.cache); err != nil {
		b.Fatal(err)
	}
	r.filler.fill(batch, r.x, r.augmentFor, 1)
	emb := r.net.Forward(r.x, 3*len(batch))
	labels, paths := r.src.batchLabels(batch), slotPaths(batch)
	mem := &r.state.Memory
	for range (mem.rows() + len(labels) - 1) / len(labels) {
		mem.remember(emb, labels, paths, 1)
	}
}
