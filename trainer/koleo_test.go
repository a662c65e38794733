package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestKoLeoMask checks which rows each row's nearest is chosen from,
// written out by hand for two triplets.
func TestKoLeoMask(t *testing.T) {
	cases := []struct {
		name   string
		labels []int // q0 q1 p0 p1 n0 n1
		want   [][]int
	}{
		{"all distinct but pairs", []int{0, 1, 0, 1, 2, 3}, [][]int{
			{0, 1, 0, 1, 1, 1}, // q0: neither itself nor its positive
			{1, 0, 1, 0, 1, 1},
			{0, 1, 0, 1, 1, 1},
			{1, 0, 1, 0, 1, 1},
			{1, 1, 1, 1, 0, 1}, // n0: every other image
			{1, 1, 1, 1, 1, 0},
		}},
		// Mining took n0 from q1's class and n1 from q0's.
		{"mined negatives", []int{0, 1, 0, 1, 1, 0}, [][]int{
			{0, 1, 0, 1, 1, 0},
			{1, 0, 1, 0, 0, 1},
			{0, 1, 0, 1, 1, 0},
			{1, 0, 1, 0, 0, 1},
			{1, 0, 1, 0, 0, 1},
			{0, 1, 0, 1, 1, 0},
		}},
		{"one class", []int{4, 4, 4, 4, 4, 4}, [][]int{
			{0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0},
			{0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, 6*6)
			koleoMask(tc.labels, got)
			checkMask(t, got, tc.want)
		})
	}
}

// TestKoLeoGraphMatchesReference runs the KoLeo term's graph, added to a
// loss of 0, in float32, as training does, on random unit embeddings, and
// compares it with the plain-Go reference (float64 sums).
func TestKoLeoGraphMatchesReference(t *testing.T) {
	const dim = 16
	cases := []struct {
		name   string
		b      int
		weight float64
		labels func(b int) []int // of the 3b rows
	}{
		{"all distinct, b 1", 1, 1, distinctLabels},
		{"all distinct, b 8", 8, 1, distinctLabels},
		{"all distinct, b 8, weight 30", 8, 30, distinctLabels},
		{"pairs of triplets share a class", 6, 0.5, pairedLabels},
		{"pairs of triplets share a class, b 32", 32, 1, pairedLabels},
		// No row has another class to be pushed from: each adds
		// -1/2 log(2 + eps), whatever the embeddings.
		{"one class", 4, 1, func(b int) []int { return make([]int, 3*b) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.b), 9))
			emb := unitRows(rng, 3*tc.b, dim)
			labels := tc.labels(tc.b)
			want := tc.weight * koleoLossOf(emb, dim, labels)
			got := graphLoss(t, emb, len(labels), dim,
				func(in *G.Node) (*G.Node, *G.Node, error) {
					return addKoLeo(in, scalar(tensor.Float32, 0), len(labels), tc.weight, tensor.Float32)
				},
				func(m []float32) { koleoMask(labels, m) })
			if math.Abs(got-want) > 1e-5*max(1, tc.weight) {
				t.Errorf("graph %.8f, reference %.8f", got, want)
			}
			t.Logf("term %.6f, graph - reference %.2g", want, got-want)
			if tc.name == "one class" {
				if c := -0.5 * math.Log(2+koleoEps); math.Abs(want-c) > 1e-12 {
					t.Errorf("reference %g, want %g", want, c)
				}
			}
		})
	}
}

// TestKoLeoReferenceNearest checks the reference on three embeddings
// worked out by hand: the term follows each row's nearest of another
// class, never one of its own.
func TestKoLeoReferenceNearest(t *testing.T) {
	c := float32(math.Sqrt(0.5))
	// a and a' (one class) 45 degrees apart; b at 90 degrees from a and
	// 45 from a'.
	emb := []float32{1, 0, c, c, 0, 1}
	labels := []int{0, 0, 1}
	rho2 := func(cos float64) float64 { return 2 - 2*cos + koleoEps }
	want := -0.5 * (math.Log(rho2(0)) + math.Log(rho2(float64(c))) + math.Log(rho2(float64(c)))) / 3
	if got := koleoLossOf(emb, 2, labels); math.Abs(got-want) > 1e-7 {
		t.Errorf("term %.8f, want %.8f", got, want)
	}
}

// TestShardKoLeoLoss runs one training shard with the KoLeo term on a
// batch of instances and checks its loss against the references on the
// inference network's embeddings of the batch (without dropout the two
// agree): the shard must set the term's mask from the batch's classes.
func TestShardKoLeoLoss(t *testing.T) {
	o := instanceOptions(t, mustClassImages(t, 4, 6))
	o.Model.Dropout = 0
	o.Loss, o.KoLeoWeight = trainconfig.Contrastive, 0.7
	o.BatchSize, o.BatchShards = 6, 1
	r := prepareRun(t, o)
	batch := r.src.epochTriplets(o, 0)[:o.BatchSize]
	r.filler.fill(batch, r.x, r.augmentFor, seedFor(o.Seed, 0, 0))
	labels := r.src.batchLabels(batch)
	dim := r.arch.Dim()
	emb := r.net.Forward(r.x, 3*o.BatchSize)
	koleo := koleoLossOf(emb, dim, labels)
	want := contrastiveLossOf(emb, dim, labels, o.BatchSize, o.Temperature) + o.KoLeoWeight*koleo
	got, err := r.shards[0].run(r.x, nil, labels, o.BatchSize, 0, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !(math.Abs(got-want) <= 1e-4) {
		t.Errorf("shard loss %.6f, want %.6f", got, want)
	}
	// An unset mask would give every row the constant of a shard of one
	// class: the term must be far enough from it for the check to tell.
	if unset := -0.5 * math.Log(2+koleoEps); !(math.Abs(o.KoLeoWeight*(koleo-unset)) >= 1e-3) {
		t.Fatalf("the term %.6f is the unset mask's %.6f: the test proves nothing", koleo, unset)
	}
	t.Logf("shard loss %.6f, KoLeo term %.6f", got, koleo)
}
