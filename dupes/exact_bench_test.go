package dupes

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
)

// BenchmarkCompareBlocks compares every pair of 20,000 random unit vectors
// of 128 dimensions, held in memory, at the default model's threshold,
// and reports the time per pair: the cost that grows as the square of a
// collection (BenchmarkDupesScale in cmd/deeprank runs the whole command).
func BenchmarkCompareBlocks(b *testing.B) {
	const n, dim = 20000, 128
	rng := rand.New(rand.NewPCG(1, 2))
	t := &table{dim: dim, ids: make([]byte, 32*n), vecs: make([]float32, 0, n*dim)}
	for range n {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		t.vecs = append(t.vecs, unit(v)...)
	}
	opts := &Options{MaxDistance: 0.5686}
	for b.Loop() {
		if err := compareBlocks(context.Background(), t, t, true, dim, vectorstore.MetricL2, opts, func(edge) {}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(n*(n-1)/2), "ns/pair")
}
