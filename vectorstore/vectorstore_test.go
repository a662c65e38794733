package vectorstore

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestMetricConversions(t *testing.T) {
	// Two unit vectors at 60 degrees: Euclidean 1, cosine distance 0.5,
	// negated inner product -0.5.
	for _, tc := range []struct {
		metric Metric
		d      float32
	}{
		{MetricL2, 1},
		{MetricCosine, 0.5},
		{MetricIP, -0.5},
	} {
		if got := tc.metric.FromL2(1); got != tc.d {
			t.Errorf("%s FromL2(1) = %v, want %v", tc.metric, got, tc.d)
		}
		if got := tc.metric.SquaredL2(tc.d); math.Abs(got-1) > 1e-9 {
			t.Errorf("%s SquaredL2(%v) = %v, want 1", tc.metric, tc.d, got)
		}
		// Inverses at another angle too: Euclidean 0.3.
		if got := tc.metric.SquaredL2(tc.metric.FromL2(0.3)); math.Abs(got-0.09) > 1e-6 {
			t.Errorf("%s SquaredL2(FromL2(0.3)) = %v, want 0.09", tc.metric, got)
		}
	}
}

func TestSpecValid(t *testing.T) {
	ok := Spec{Dim: 8, Metric: MetricCosine, ModelVersion: "v"}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want bool
	}{
		{"plain", func(*Spec) {}, true},
		{"variants", func(s *Spec) { s.Variants = 7 }, true},
		{"learned part", func(s *Spec) { s.Learned = 6 }, true},
		{"learned part, variants", func(s *Spec) { s.Learned, s.Variants = 1, 7 }, true},
		{"all learned is 0", func(s *Spec) { s.Learned = 8 }, false},
		{"learned beyond the vector", func(s *Spec) { s.Learned = 9 }, false},
		{"negative learned", func(s *Spec) { s.Learned = -1 }, false},
		{"negative variants", func(s *Spec) { s.Variants = -1 }, false},
		{"no dimension", func(s *Spec) { s.Dim = 0 }, false},
		{"no metric", func(s *Spec) { s.Metric = "" }, false},
		{"no model", func(s *Spec) { s.ModelVersion = "" }, false},
	} {
		s := ok
		tc.edit(&s)
		if got := s.Valid(); got != tc.want {
			t.Errorf("%s: %+v.Valid() = %v, want %v", tc.name, s, got, tc.want)
		}
	}
}

// TestLearnedPart: the learned part of a vector comes back at unit length
// whatever follows it (a thumbnail, an aspect value), a vector all learned
// comes back as it is, and a vector whose learned part is all zero gives
// zeros.
func TestLearnedPart(t *testing.T) {
	// A unit vector: learned part (0.6, 0) at 0.6 of the length, the rest
	// (0.8) not learned; variants after it are not looked at.
	v := []float32{0.6, 0, 0.8, 9, 9, 9}
	for _, tc := range []struct {
		name string
		spec Spec
		v    []float32
		want []float32
	}{
		{"all learned", Spec{Dim: 3}, v, v[:3]},
		{"two learned", Spec{Dim: 3, Learned: 2}, v, []float32{1, 0}},
		{"one learned", Spec{Dim: 3, Learned: 1}, v, []float32{1}},
		{"unit length", Spec{Dim: 3, Learned: 2}, []float32{1.2, 0, 1.6}, []float32{1, 0}},
		{"an aspect value after it", Spec{Dim: 4, Learned: 2}, []float32{0, 0.6, 0.8, -1.5}, []float32{0, 1}},
		{"keeps the sign", Spec{Dim: 3, Learned: 2}, []float32{0, -0.6, 0.8}, []float32{0, -1}},
		{"no learned signal", Spec{Dim: 3, Learned: 2}, []float32{0, 0, 1}, []float32{0, 0}},
		{"all zero", Spec{Dim: 3, Learned: 2}, []float32{0, 0, 0}, []float32{0, 0}},
	} {
		got := tc.spec.LearnedPart(nil, tc.v)
		if len(got) != tc.spec.LearnedDim() || !slices.EqualFunc(got, tc.want, func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }) {
			t.Errorf("%s: LearnedPart = %v, want %v (LearnedDim %d)", tc.name, got, tc.want, tc.spec.LearnedDim())
		}
	}
	// dst is reused, and v is left as it was.
	s := Spec{Dim: 3, Learned: 2}
	dst := make([]float32, 0, 8)
	got := s.LearnedPart(dst, v)
	if &got[0] != &dst[:1][0] || !slices.Equal(v, []float32{0.6, 0, 0.8, 9, 9, 9}) {
		t.Errorf("LearnedPart did not write into dst, or wrote into v: %v, v %v", got, v)
	}
}

// viewsCollection answers each search by the query's first value: the
// hits of that vector, or its error.
type viewsCollection struct {
	Collection
	hits [][]Hit
	errs []error
}

func (c viewsCollection) Search(_ context.Context, _ string, q []float32, k int, _ *Filter) ([]Hit, error) {
	i := int(q[0])
	if c.errs != nil && c.errs[i] != nil {
		return nil, c.errs[i]
	}
	return c.hits[i][:min(k, len(c.hits[i]))], nil
}

func TestSearchAny(t *testing.T) {
	hit := func(id string, d float32) Hit { return Hit{ID: id, Distance: d} }
	views := func(n int) [][]float32 {
		out := make([][]float32, n)
		for i := range out {
			out[i] = []float32{float32(i)}
		}
		return out
	}
	broken := errors.New("broken")
	for _, tc := range []struct {
		name  string
		coll  viewsCollection
		views int
		k     int
		want  []Hit
		err   error
	}{
		{"one vector is a plain search", viewsCollection{hits: [][]Hit{{hit("a", 0.5), hit("b", 0.7)}}}, 1, 2,
			[]Hit{hit("a", 0.5), hit("b", 0.7)}, nil},
		{"each item at its nearest vector", viewsCollection{hits: [][]Hit{
			{hit("a", 0.5), hit("b", 0.7), hit("c", 0.9)},
			{hit("c", 0.1), hit("a", 0.6), hit("d", 0.8)},
		}}, 2, 3, []Hit{hit("c", 0.1), hit("a", 0.5), hit("b", 0.7)}, nil},
		{"ties keep the first vector's order", viewsCollection{hits: [][]Hit{
			{hit("b", 0.5)},
			{hit("a", 0.5)},
		}}, 2, 5, []Hit{hit("b", 0.5), hit("a", 0.5)}, nil},
		{"an error fails the search", viewsCollection{hits: [][]Hit{{hit("a", 0.5)}, nil}, errs: []error{nil, broken}}, 2, 1, nil, broken},
		{"no vectors is refused", viewsCollection{}, 0, 1, nil, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SearchAny(t.Context(), tc.coll, "v", views(tc.views), tc.k, nil)
			if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
