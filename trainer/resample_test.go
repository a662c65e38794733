package trainer

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
)

func TestScaledKernel(t *testing.T) {
	for _, c := range []struct {
		name         string
		from, to     []int
		fromIn, toIn int
		want         bool
	}{
		{"8 to 12 with 64 to 96", []int{64, 3, 8, 8}, []int{64, 3, 12, 12}, 64, 96, true},
		{"16 to 24 with 64 to 96", []int{64, 3, 16, 16}, []int{64, 3, 24, 24}, 64, 96, true},
		{"shrunk with the input", []int{4, 3, 12, 12}, []int{4, 3, 8, 8}, 96, 64, true},
		{"input unchanged", []int{4, 3, 8, 8}, []int{4, 3, 12, 12}, 64, 64, false},
		{"kernel not scaled with the input", []int{4, 3, 3, 3}, []int{4, 3, 3, 3}, 64, 96, false},
		{"kernel scaled otherwise", []int{4, 3, 8, 8}, []int{4, 3, 16, 16}, 64, 96, false},
		{"channels differ", []int{4, 3, 8, 8}, []int{5, 3, 12, 12}, 64, 96, false},
		{"not a convolution", []int{8, 16}, []int{12, 16}, 64, 96, false},
		{"not square", []int{4, 3, 8, 4}, []int{4, 3, 12, 6}, 64, 96, false},
	} {
		if got := scaledKernel(c.from, c.to, c.fromIn, c.toIn); got != c.want {
			t.Errorf("%s: scaledKernel(%v, %v, %d, %d) = %v, want %v", c.name, c.from, c.to, c.fromIn, c.toIn, got, c.want)
		}
	}
}

func TestResampleKernel(t *testing.T) {
	for _, c := range []struct {
		name  string
		src   []float32
		k, kd int
		want  []float32
	}{
		{"same size is a copy", []float32{1, 2, 3, 4}, 2, 2, []float32{1, 2, 3, 4}},
		// Tap centres of the 4x4 kernel fall at -0.25 (clamped to 0), 0.25,
		// 0.75 and 1.25 (clamped to 1) of the 2x2's; the scale is 1/4.
		{"2 to 4 by hand", []float32{0, 1, 2, 3}, 2, 4, []float32{
			0, 0.0625, 0.1875, 0.25,
			0.125, 0.1875, 0.3125, 0.375,
			0.375, 0.4375, 0.5625, 0.625,
			0.5, 0.5625, 0.6875, 0.75,
		}},
		{"two filters, constant, 2 to 3", []float32{9, 9, 9, 9, 18, 18, 18, 18}, 2, 3, []float32{
			4, 4, 4, 4, 4, 4, 4, 4, 4,
			8, 8, 8, 8, 8, 8, 8, 8, 8,
		}},
	} {
		got := make([]float32, len(c.want))
		resampleKernel(got, c.src, c.k, c.kd)
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

// TestResampleKernelConv checks what resampling is for: a strided
// convolution with the resampled kernel, on an image sampled 1.5 times as
// densely, gives what the original kernel gave on the original.
func TestResampleKernelConv(t *testing.T) {
	// A smooth image, sampled at the centres of a side x side grid over a
	// 16-unit square.
	image := func(side int) []float64 {
		x := make([]float64, side*side)
		for i := range side {
			for j := range side {
				u, v := (float64(i)+0.5)*16/float64(side), (float64(j)+0.5)*16/float64(side)
				x[i*side+j] = math.Sin(0.3*u) + math.Cos(0.2*v) + 0.05*u*v
			}
		}
		return x
	}
	// A convolution whose stride is its kernel, no padding.
	conv := func(x []float64, side int, w []float32, k int) []float64 {
		var out []float64
		for p := 0; p+k <= side; p += k {
			for q := 0; q+k <= side; q += k {
				var s float64
				for i := range k {
					for j := range k {
						s += float64(w[i*k+j]) * x[(p+i)*side+q+j]
					}
				}
				out = append(out, s)
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 4*4)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	wd := make([]float32, 6*6)
	resampleKernel(wd, w, 4, 6)
	want, got := conv(image(16), 16, w, 4), conv(image(24), 24, wd, 6)
	var errSq, norm float64
	for i := range want {
		errSq += (got[i] - want[i]) * (got[i] - want[i])
		norm += want[i] * want[i]
	}
	rel := math.Sqrt(errSq / norm)
	t.Logf("relative error %.4f", rel)
	if rel > 0.02 {
		t.Errorf("relative error %.3f between the convolutions at 16 and 24 pixels, want <= 0.02\n got %.3f\nwant %.3f", rel, got, want)
	}
}

// TestWarmStartInputSize grows a model from 16 to 24 pixels of input, its
// shallow branches' kernels and strides scaled with it: their kernels are
// resampled, the 3x3 backbone and the head (whose rows keep their count)
// are taken as they are.
func TestWarmStartInputSize(t *testing.T) {
	spec := smallSpec(16)
	spec.Shallow = []model.ShallowBranch{
		{Filters: 6, Kernel: 4, Stride: 4, PoolKernel: 2, PoolStride: 2},
		{Filters: 6, Kernel: 8, Stride: 8, PoolKernel: 1, PoolStride: 1},
	}
	from, path := newModel(t, spec, 1, true)
	spec.InputSize = 24
	spec.Shallow[0].Kernel, spec.Shallow[0].Stride = 6, 6
	spec.Shallow[1].Kernel, spec.Shallow[1].Stride = 12, 12
	to, _ := newModel(t, spec, 2, false)
	var log bytes.Buffer
	if err := warmStart(to, path, &log); err != nil {
		t.Fatal(err)
	}
	if want := "2 kernels resampled from 16 to 24 pixels of input (shallow1.conv.w shallow2.conv.w)"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
	for name, w := range to.Weights {
		want := from.Weights[name]
		switch name {
		case "shallow1.conv.w":
			want = make([]float32, len(w))
			resampleKernel(want, from.Weights[name], 4, 6)
		case "shallow2.conv.w":
			want = make([]float32, len(w))
			resampleKernel(want, from.Weights[name], 8, 12)
		}
		if !slices.Equal(w, want) {
			t.Errorf("%s was neither taken nor resampled from the model file", name)
		}
	}
}
