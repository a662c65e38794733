package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestMemoryPushAndMask pushes more rows than the memory holds, so that it
// wraps, and checks which rows each anchor may take as negatives.
func TestMemoryPushAndMask(t *testing.T) {
	m := newMemory(3, 2)
	if got := m.Labels; !slices.Equal(got, []int{-1, -1, -1}) {
		t.Fatalf("a new memory's labels %v, want all empty", got)
	}
	m.push([]float32{1, 1, 2, 2}, []int{7, 8})
	m.push([]float32{3, 3, 4, 4}, []int{9, 7}) // the fourth overwrites the first
	if want := []float32{4, 4, 2, 2, 3, 3}; !slices.Equal(m.Emb, want) {
		t.Errorf("embeddings %v, want %v", m.Emb, want)
	}
	if want := []int{7, 8, 9}; !slices.Equal(m.Labels, want) {
		t.Errorf("labels %v, want %v", m.Labels, want)
	}
	if m.Next != 1 {
		t.Errorf("next row %d, want 1", m.Next)
	}

	// One triplet: the query and the positive are the anchors.
	cases := []struct {
		name string
		mem  memory
		own  []int // query, positive, negative
		want []float32
	}{
		{"rows of the anchors' class left out", m, []int{7, 7, 9}, []float32{0, 1, 1, 0, 1, 1}},
		{"a positive of another class", m, []int{8, 9, 7}, []float32{1, 0, 1, 1, 1, 0}},
		{"empty rows left out", newMemory(3, 2), []int{7, 7, 9}, []float32{0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, 2*3)
			for i := range got {
				got[i] = 5 // every value must be written
			}
			tc.mem.mask(tc.own, 1, got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("mask %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMemoryCheck(t *testing.T) {
	good := newMemory(4, 2)
	cases := []struct {
		name      string
		edit      func(m *memory)
		rows, dim int
		want      string // substring of the error; "" for none
	}{
		{"as made", func(m *memory) {}, 4, 2, ""},
		{"another size asked", func(m *memory) {}, 8, 2, "a memory of 4 rows of 2 values"},
		{"another dim asked", func(m *memory) {}, 4, 3, "where the options ask for 4 rows of 3"},
		{"next past the end", func(m *memory) { m.Next = 4 }, 4, 2, "next 4"},
		{"next negative", func(m *memory) { m.Next = -1 }, 4, 2, "next -1"},
		{"short embeddings", func(m *memory) { m.Emb = m.Emb[:7] }, 4, 2, "7 values"},
		{"a bad class", func(m *memory) { m.Labels[2] = -3 }, 4, 2, "class -3"},
		{"no rows", func(m *memory) { *m = memory{Dim: 2} }, 0, 2, "0 rows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			m.Labels, m.Emb = slices.Clone(good.Labels), slices.Clone(good.Emb)
			tc.edit(&m)
			err := m.check(tc.rows, tc.dim)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestShardMemory runs a training shard with a memory holding rows of its
// own images' classes and of others: the loss it returns must be the
// reference loss of the embeddings it made over that memory, which it
// differs from without the memory.
func TestShardMemory(t *testing.T) {
	const b, rows = 2, 9
	m, err := model.New(smallSpec(16), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(3)
	a, err := m.Spec.Arch()
	if err != nil {
		t.Fatal(err)
	}
	o := trainconfig.Default()
	o.Loss, o.Temperature, o.Memory = trainconfig.Contrastive, 0.1, rows
	s, err := newShard(a, m, b, o, fastOps)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(4, 4))
	x := make([]float32, 3*b*a.Input.Size())
	for i := range x {
		x[i] = rng.Float32()
	}
	labels := []int{10, 11, 10, 11, 12, 13} // q0 q1 p0 p1 n0 n1
	mem := newMemory(rows, a.Dim())
	memLabels := []int{10, 12, 20, 11, 21, 22, 23, 10}
	mem.push(unitRows(rng, len(memLabels), a.Dim()), memLabels)

	loss, err := s.run(x, nil, labels, &mem, b, 0, rng)
	if err != nil {
		t.Fatal(err)
	}
	want := contrastiveLossOf(s.embeddings(), a.Dim(), labels, b, o.Temperature, &mem)
	without := contrastiveLossOf(s.embeddings(), a.Dim(), labels, b, o.Temperature, nil)
	t.Logf("loss %.6f, reference %.6f, without the memory %.6f", loss, want, without)
	if math.Abs(loss-want) > 1e-5 {
		t.Errorf("shard loss %.6f, reference over its memory %.6f", loss, want)
	}
	if math.Abs(without-want) < 1e-3 {
		t.Errorf("the memory moved the loss only from %.6f to %.6f: the test cannot tell it is used", without, want)
	}
	if !slices.Equal(s.own, labels) {
		t.Errorf("the shard keeps the classes %v for the memory, want %v", s.own, labels)
	}
}
