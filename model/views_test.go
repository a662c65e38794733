package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCenterViewResample checks the bilinear resampling of centre views on
// images it must reproduce exactly: a constant stays constant, and a ramp
// along x (or y) becomes the ramp at the view's pixel centres, origin +
// (o+0.5)*fraction - 0.5 in the image's pixels.
func TestCenterViewResample(t *testing.T) {
	for _, tc := range []struct {
		size     int
		fraction float64
	}{{8, 0.5}, {8, 0.85}, {16, 0.25}, {64, 0.8}, {5, 0.9}} {
		n := tc.size
		v := newCenterView(n, tc.fraction)
		origin := float64(n) * (1 - tc.fraction) / 2
		want := func(o int) float64 { return origin + (float64(o)+0.5)*tc.fraction - 0.5 }
		src, dst := make([]float32, 3*n*n), make([]float32, 3*n*n)
		for c := range 3 {
			for y := range n {
				for x := range n {
					// Channel 0 a constant, 1 a ramp along x, 2 along y.
					src[c*n*n+y*n+x] = [3]float32{0.25, float32(x), float32(y)}[c]
				}
			}
		}
		v.resample(src, dst, n)
		for y := range n {
			for x := range n {
				for c, w := range [3]float64{0.25, want(x), want(y)} {
					if got := dst[c*n*n+y*n+x]; math.Abs(float64(got)-w) > 1e-5 {
						t.Fatalf("size %d, fraction %g: channel %d at (%d, %d) = %g, want %g", n, tc.fraction, c, x, y, got, w)
					}
				}
			}
		}
	}
}

// TestForwardCenterViews checks that a Net with centre views embeds each
// image of a batch as the normalised sum of its own embedding and its
// views', as the same Net without views gives them, and that in steady
// state it still allocates only the result.
func TestForwardCenterViews(t *testing.T) {
	m, err := New(tinySpec(), UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(3)
	plain, err := NewNet(m, &NetOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	fractions := []float64{0.5, 0.8}
	m.Spec.CenterViews = fractions
	viewed, err := NewNet(m, &NetOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 3
	size, in, dim := m.Spec.InputSize, plain.InputShape().Size(), plain.Dim()
	x := randomValues(rand.New(rand.NewPCG(5, 6)), batch*in)
	want := plain.Forward(x, batch)
	for _, f := range fractions {
		view := make([]float32, len(x))
		for i := range batch {
			newCenterView(size, f).resample(x[i*in:(i+1)*in], view[i*in:(i+1)*in], size)
		}
		for i, e := range plain.Forward(view, batch) {
			want[i] += e
		}
	}
	l2Normalize(want, dim)
	got := viewed.Forward(x, batch)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("image %d, value %d: %g, want %g", i/dim, i%dim, got[i], want[i])
		}
	}
	if raceEnabled {
		return // the race detector makes sync.Pool drop buffers at random
	}
	one, err := NewNet(m, &NetOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	one.Forward(x, batch) // the first batch sizes the buffers
	if allocs := testing.AllocsPerRun(5, func() { one.Forward(x, batch) }); allocs > 1 {
		t.Errorf("%.1f allocations a batch on one worker, want 1 (the result)", allocs)
	}
}
