package trainer

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestContrastiveMask checks which rows each anchor's softmax runs over,
// written out by hand for two triplets.
func TestContrastiveMask(t *testing.T) {
	cases := []struct {
		name   string
		labels []int // q0 q1 p0 p1 n0 n1
		want   [][]int
	}{
		{"all distinct but pairs", []int{0, 1, 0, 1, 2, 3}, [][]int{
			{0, 1, 1, 1, 1, 1}, // q0: all but itself
			{1, 0, 1, 1, 1, 1},
			{1, 1, 0, 1, 1, 1},
			{1, 1, 1, 0, 1, 1},
		}},
		// Both triplets of class 0: q0 and p1 are not q1's negatives, nor
		// q1 and p1 p0's; n0, of q1's class, is no negative of q1 or p1.
		{"two triplets of one class", []int{0, 0, 0, 0, 1, 0}, [][]int{
			{0, 0, 1, 0, 1, 0},
			{0, 0, 0, 1, 1, 0},
			{1, 0, 0, 0, 1, 0},
			{0, 1, 0, 0, 1, 0},
		}},
		{"a mined negative of another triplet's class", []int{0, 1, 0, 1, 1, 0}, [][]int{
			{0, 1, 1, 1, 1, 0},
			{1, 0, 1, 1, 0, 1},
			{1, 1, 0, 1, 1, 0},
			{1, 1, 1, 0, 0, 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, 4*6)
			contrastiveMask(tc.labels, 2, got)
			checkMask(t, got, tc.want)
		})
	}
}

// checkMask fails t unless mask, row-major, holds the rows of want.
func checkMask(t *testing.T, mask []float32, want [][]int) {
	t.Helper()
	var flat []float32
	for _, row := range want {
		for _, v := range row {
			flat = append(flat, float32(v))
		}
	}
	if !slices.Equal(mask, flat) {
		t.Errorf("mask %v, want %v", mask, flat)
	}
}

// TestContrastiveGraphMatchesReference runs the contrastive loss graph in
// float32, as training does, on random unit embeddings, and compares it
// with the plain-Go reference (float64 sums).
func TestContrastiveGraphMatchesReference(t *testing.T) {
	const dim = 16
	cases := []struct {
		name   string
		b      int
		tau    float64
		labels func(b int) []int // of the 3b rows
	}{
		{"all distinct, b 1", 1, 0.1, distinctLabels},
		{"all distinct, b 8", 8, 0.1, distinctLabels},
		{"all distinct, lowest tau", 8, trainconfig.MinTemperature, distinctLabels},
		{"all distinct, highest tau", 8, trainconfig.MaxTemperature, distinctLabels},
		{"pairs of triplets share a class", 6, 0.1, pairedLabels},
		{"pairs of triplets share a class, lowest tau", 6, trainconfig.MinTemperature, pairedLabels},
		{"pairs of triplets share a class, b 24", 24, 0.2, pairedLabels},
		// Every row of one class: each anchor's softmax holds only its
		// partner, so every anchor's loss is 0.
		{"one class", 4, 0.1, func(b int) []int { return make([]int, 3*b) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.b), 7))
			emb := unitRows(rng, 3*tc.b, dim)
			labels := tc.labels(tc.b)
			want := contrastiveLossOf(emb, dim, labels, tc.b, tc.tau)
			got := graphLoss(t, emb, 3*tc.b, dim,
				func(in *G.Node) (*G.Node, *G.Node, error) { return contrastiveLoss(in, tc.b, tc.tau, tensor.Float32) },
				func(m []float32) { contrastiveMask(labels, tc.b, m) })
			if math.Abs(got-want) > 1e-5 {
				t.Errorf("graph %.8f, reference %.8f", got, want)
			}
			t.Logf("loss %.6f, graph - reference %.2g", want, got-want)
			if tc.name == "one class" && math.Abs(want) > 1e-12 {
				t.Errorf("reference %g, want 0", want)
			}
		})
	}
}

// distinctLabels gives every triplet its own class and every negative one
// more.
func distinctLabels(b int) []int {
	labels := make([]int, 3*b)
	for i := range b {
		labels[i], labels[b+i], labels[2*b+i] = i, i, b+i
	}
	return labels
}

// pairedLabels puts triplets 2k and 2k+1 in one class, as two positives of
// an image or two emoji of one code do, and takes each negative from
// another triplet's class, as mining does.
func pairedLabels(b int) []int {
	labels := make([]int, 3*b)
	for i := range b {
		labels[i], labels[b+i], labels[2*b+i] = i/2, i/2, ((i+2)%b)/2
	}
	return labels
}

func unitRows(rng *rand.Rand, n, dim int) []float32 {
	x := make([]float32, n*dim)
	for i := range n {
		row := x[i*dim : (i+1)*dim]
		ss := 0.0
		for k := range row {
			v := rng.NormFloat64()
			row[k] = float32(v)
			ss += v * v
		}
		for k := range row {
			row[k] /= float32(math.Sqrt(ss))
		}
	}
	return x
}

// graphLoss builds with build a loss over emb's n rows of dim values in
// float32, as training does, fills its mask input with fill, runs it and
// returns the loss.
func graphLoss(t *testing.T, emb []float32, n, dim int, build func(embed *G.Node) (loss, mask *G.Node, err error), fill func(mask []float32)) float64 {
	t.Helper()
	g := G.NewGraph()
	in := G.NewMatrix(g, tensor.Float32, G.WithShape(n, dim), G.WithName("embed"),
		G.WithValue(tensor.New(tensor.WithBacking(slices.Clone(emb)), tensor.WithShape(n, dim))))
	loss, mask, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	m, err := letInput(mask)
	if err != nil {
		t.Fatal(err)
	}
	fill(m)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return float64(loss.Value().Data().(float32))
}

// TestTrainContrastive trains briefly with the contrastive loss on
// generated images, every image its own class (copy detection), with
// semi-hard mining from a memory, two shards, distillation and the KoLeo
// term: the training and held-out losses fall, and the held-out copies are
// found well above chance.
func TestTrainContrastive(t *testing.T) {
	root := mustClassImages(t, 4, 10)
	_, teacherPath := newModel(t, smallSpec(16), 7, true)
	o := instanceOptions(t, root)
	o.Loss = trainconfig.Contrastive
	o.Epochs, o.StepsPerEpoch = 4, 6
	o.BatchSize, o.BatchShards = 8, 2
	o.LearningRate = 0.01
	o.SelectBy = "recall1"
	o.Distill = trainconfig.Distill{Model: teacherPath, Weight: 0.1}
	o.MiningMemory = 48
	o.KoLeoWeight = 0.5
	res, err := Train(context.Background(), o, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	src, err := newSource(o)
	if err != nil {
		t.Fatal(err)
	}
	heldOut := len(src.valSet.Paths)
	first, last := res.History[0], res.History[len(res.History)-1]
	t.Logf("train loss %.4f -> %.4f; held-out loss %.4f -> %.4f, recall@1 %.4f -> %.4f (best %.4f) among %d held-out images",
		first.TrainLoss, last.TrainLoss, res.Initial.ValLoss, last.ValLoss, res.Initial.ValRecall1, last.ValRecall1, res.Best.ValRecall1, heldOut)
	if !(last.TrainLoss < first.TrainLoss) {
		t.Errorf("the training loss rose from %.4f to %.4f", first.TrainLoss, last.TrainLoss)
	}
	if !(last.ValLoss < res.Initial.ValLoss) {
		t.Errorf("the held-out loss rose from %.4f to %.4f", res.Initial.ValLoss, last.ValLoss)
	}
	if chance := 1 / float64(heldOut); res.Best.ValRecall1 < 3*chance {
		t.Errorf("held-out recall@1 %.4f, under three times chance (%.4f)", res.Best.ValRecall1, chance)
	}
}

// TestHeldOutContrastive checks that the held-out loss of a contrastive
// run groups the held-out triplets as a training shard would (here 2 a
// group, the last group short), ranks each query's held-out copy, takes
// the classes of the images, weighs each group by its triplets, and adds
// the KoLeo term when it is weighted.
func TestHeldOutContrastive(t *testing.T) {
	for _, koleo := range []float64{0, 2} {
		t.Run(fmt.Sprintf("koleo %g", koleo), func(t *testing.T) { checkHeldOutContrastive(t, koleo) })
	}
}

func checkHeldOutContrastive(t *testing.T, koleo float64) {
	arch, err := smallSpec(16).Arch()
	if err != nil {
		t.Fatal(err)
	}
	dim := arch.Dim()
	val := []dataset.Triplet{{Query: "a", Positive: "a", Negative: "b"}, {Query: "c", Positive: "d", Negative: "a"}, {Query: "b", Positive: "b", Negative: "e"}}
	labels := map[string]int{"a": 0, "b": 1, "c": 2, "d": 2, "e": 3}
	copyOf := func(p string) string { return "\x00" + p }
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := map[string][]float32{}
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		vecs[p], vecs[copyOf(p)] = unitRows(rng, 1, dim), unitRows(rng, 1, dim)
	}
	rows := func(paths ...string) []float32 {
		var emb []float32
		for _, p := range paths {
			emb = append(emb, vecs[p]...)
		}
		return emb
	}
	loss := func(emb []float32, labels []int) float64 {
		return contrastiveLossOf(emb, dim, labels, len(labels)/3, 0.1) + koleo*koleoLossOf(emb, dim, labels)
	}
	first := loss(rows(copyOf("a"), copyOf("c"), "a", "d", "b", "a"), []int{0, 2, 0, 2, 1, 0})
	last := loss(rows(copyOf("b"), "b", "e"), []int{1, 1, 3})
	want := (2*first + last) / 3

	o := trainconfig.Default()
	o.Loss, o.Temperature, o.BatchSize, o.BatchShards = trainconfig.Contrastive, 0.1, 4, 2
	o.KoLeoWeight = koleo
	r := &run{opts: o, arch: arch, src: &source{labels: labels}}
	if got := r.heldOutContrastive(val, vecs, copyOf); math.Abs(got-want) > 1e-12 {
		t.Errorf("held-out loss %.12f, want %.12f", got, want)
	}
}
