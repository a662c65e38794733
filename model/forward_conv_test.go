package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv is a convolution (and the max-pool after it, if any) by
// definition, in float64: every output sums its window's products
// directly, with Keras 'same' padding from the layer, and the pool takes
// the maximum over the window cells inside the input.
func naiveConv(conv Layer, pool *Layer, x, w, b []float32) []float64 {
	in, out := conv.In, conv.Out
	k := conv.Kernel
	y := make([]float64, out.Size())
	for o := range out.C {
		for oy := range out.H {
			for ox := range out.W {
				s := float64(b[o])
				for c := range in.C {
					for ky := range k {
						for kx := range k {
							iy, ix := oy*conv.Stride+ky-conv.Pad.Top, ox*conv.Stride+kx-conv.Pad.Left
							if iy < 0 || iy >= in.H || ix < 0 || ix >= in.W {
								continue
							}
							s += float64(w[((o*in.C+c)*k+ky)*k+kx]) * float64(x[(c*in.H+iy)*in.W+ix])
						}
					}
				}
				if conv.ReLU {
					s = math.Max(s, 0)
				}
				y[(o*out.H+oy)*out.W+ox] = s
			}
		}
	}
	if pool == nil {
		return y
	}
	p := make([]float64, pool.Out.Size())
	for c := range pool.Out.C {
		for oy := range pool.Out.H {
			for ox := range pool.Out.W {
				m := math.Inf(-1)
				for ky := range pool.Kernel {
					for kx := range pool.Kernel {
						iy, ix := oy*pool.Stride+ky-pool.Pad.Top, ox*pool.Stride+kx-pool.Pad.Left
						if iy >= 0 && iy < out.H && ix >= 0 && ix < out.W {
							m = math.Max(m, y[(c*out.H+iy)*out.W+ix])
						}
					}
				}
				p[(c*pool.Out.H+oy)*pool.Out.W+ox] = m
			}
		}
	}
	return p
}

// TestConvMatchesNaive runs convolutions of every shape class the fast
// pass treats apart against naiveConv: stride 1 by the implicit GEMM with
// symmetric and uneven padding, in several blocks of rows (some odd, the
// last one short), and by windows where the implicit GEMM would waste too
// much; strided, padded and non-overlapping windows; the plain 2x2 pool
// fused a row pair at a time, other pools over the whole product; filter
// counts that leave the last panel part empty; one-pixel images.
func TestConvMatchesNaive(t *testing.T) {
	cases := []struct {
		in                 Shape
		filters, k, stride int
		relu               bool
		poolK, poolStride  int  // 0: no pool
		implicit           bool // done by implicitConv, not windowConv
	}{
		{Shape{3, 64, 64}, 16, 3, 1, true, 2, 2, true},   // stage 1: blocks of 22 rows, the last of 20
		{Shape{16, 32, 32}, 32, 3, 1, true, 2, 2, true},  // stage 2
		{Shape{5, 37, 37}, 7, 3, 1, true, 0, 0, true},    // odd sides, 7 filters: one block
		{Shape{5, 37, 37}, 64, 3, 1, true, 0, 0, true},   // blocks of 13 rows, the last of 11
		{Shape{5, 37, 37}, 7, 3, 1, false, 2, 2, false},  // 2x2 pool on odd sides: the general pool
		{Shape{4, 30, 30}, 13, 3, 1, true, 3, 2, false},  // overlapping pool, padded after
		{Shape{3, 40, 40}, 8, 5, 1, true, 2, 2, true},    // pad 2 each side
		{Shape{7, 20, 20}, 6, 4, 1, false, 0, 0, true},   // even kernel: pad 1 before, 2 after
		{Shape{2, 9, 9}, 3, 11, 1, true, 0, 0, false},    // kernel wider than the image
		{Shape{3, 33, 33}, 9, 3, 2, true, 2, 2, false},   // strided
		{Shape{3, 64, 64}, 96, 3, 5, false, 3, 4, false}, // DefaultSpec's shallow1
		{Shape{3, 64, 64}, 96, 3, 9, false, 7, 2, false}, // DefaultSpec's shallow2
		{Shape{3, 64, 64}, 64, 8, 8, false, 2, 2, false}, // non-overlapping windows
		{Shape{3, 64, 64}, 32, 2, 2, true, 0, 0, false},  // colour features
		{Shape{6, 12, 12}, 5, 1, 1, true, 1, 1, false},   // 1x1, with a pool of one cell: the general pool
		{Shape{6, 12, 12}, 5, 1, 1, true, 0, 0, true},    // 1x1
		{Shape{1, 1, 1}, 3, 3, 1, true, 2, 2, false},     // one pixel
		{Shape{128, 4, 4}, 130, 3, 1, true, 2, 2, false}, // more filters than a block of A; implicit would waste a third
		{Shape{64, 8, 8}, 128, 3, 1, true, 2, 2, true},   // stage 4
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range cases {
		name := fmt.Sprintf("in=%dx%dx%d/filters=%d/k=%d/s=%d/relu=%v/pool=%d,%d",
			tc.in.C, tc.in.H, tc.in.W, tc.filters, tc.k, tc.stride, tc.relu, tc.poolK, tc.poolStride)
		t.Run(name, func(t *testing.T) {
			b := &builder{cur: tc.in}
			b.conv("l", tc.filters, tc.k, tc.stride, tc.relu)
			if tc.poolK > 0 {
				b.pool(tc.poolK, tc.poolStride)
			}
			steps := compile(b.layers)
			if len(steps) != 1 {
				t.Fatalf("compiled into %d steps, want the pool fused into the conv", len(steps))
			}
			if got := steps[0].implicit != nil; got != tc.implicit {
				t.Fatalf("implicit GEMM: %v, want %v: the case tests another path than it says", got, tc.implicit)
			}
			x := randomValues(rng, tc.in.Size())
			w := randomValues(rng, tc.filters*tc.in.C*tc.k*tc.k)
			bias := randomValues(rng, tc.filters)
			want := naiveConv(steps[0].Layer, steps[0].pool, x, w, bias)
			n := newNet(Arch{}, map[string][]float32{"l.w": w, "l.b": bias}, 1)
			sc := new(scratch)
			for run := range 2 { // the second in buffers left dirty by the first
				got := n.image(steps, x, packed(n, steps), sc)
				// Round-off grows with the terms of each float32 sum
				// (stage 4's 576 in one running sum are off by 1e-5):
				// 1e-5 up to 256 terms, in proportion beyond.
				tol := 1e-5 * max(1, float64(tc.in.C*tc.k*tc.k)/256)
				if err := closeWithin(got, want, tol); err != nil {
					t.Fatalf("run %d: %v (conv padding %+v)", run, err, steps[0].Pad)
				}
			}
		})
	}
}

// TestChainedConvsMatchNaive runs two stride-1 convolutions in a row,
// where the first writes its output into the second's padded layout and
// the second reads it as it is, against naiveConv applied twice: with and
// without the pool between them, uneven padding (an even kernel), and a
// buffer left dirty by a first run.
func TestChainedConvsMatchNaive(t *testing.T) {
	cases := []struct {
		in     Shape
		k1, k2 int
		pool   bool
	}{
		{Shape{3, 16, 16}, 3, 3, true},
		{Shape{4, 13, 11}, 3, 3, false},
		{Shape{2, 20, 20}, 4, 5, false},
		{Shape{5, 24, 24}, 1, 3, true},
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range cases {
		t.Run(fmt.Sprintf("in=%dx%dx%d/k=%d,%d/pool=%v", tc.in.C, tc.in.H, tc.in.W, tc.k1, tc.k2, tc.pool), func(t *testing.T) {
			b := &builder{cur: tc.in}
			b.conv("a", 6, tc.k1, 1, true)
			if tc.pool {
				b.pool(2, 2)
			}
			b.conv("b", 5, tc.k2, 1, false)
			steps := compile(b.layers)
			if len(steps) != 2 || steps[0].outPadded != steps[1].implicit || !steps[1].inPadded {
				t.Fatalf("the two convolutions are not chained: %+v", steps)
			}
			steps[1].packed = 1 // as newNet numbers them
			w := map[string][]float32{
				"a.w": randomValues(rng, 6*tc.in.C*tc.k1*tc.k1), "a.b": randomValues(rng, 6),
				"b.w": randomValues(rng, 5*6*tc.k2*tc.k2), "b.b": randomValues(rng, 5),
			}
			x := randomValues(rng, tc.in.Size())
			mid := naiveConv(steps[0].Layer, steps[0].pool, x, w["a.w"], w["a.b"])
			mid32 := make([]float32, len(mid))
			for i, v := range mid {
				mid32[i] = float32(v)
			}
			want := naiveConv(steps[1].Layer, nil, mid32, w["b.w"], w["b.b"])
			n := newNet(Arch{}, w, 1)
			sc := new(scratch)
			for run := range 2 {
				if err := closeWithin(n.image(steps, x, packed(n, steps), sc), want, 1e-4); err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
			}
		})
	}
}

// packed is steps' filters packed for their kernels by n.
func packed(n *Net, steps []step) [][]float32 {
	var fc filterCache
	n.packFilters(&fc, steps)
	return fc.packed
}

// TestForwardSeesWeightChanges checks that a Net reads the model's
// weights as they are at each call (the trainer evaluates with one while
// it trains): after a convolution's weights change, its next embeddings
// are a fresh Net's, though its filters were packed for the old ones; and
// a weight that only changes sign at zero counts as changed.
func TestForwardSeesWeightChanges(t *testing.T) {
	for _, name := range []string{"convnet.stage2_conv.w", "shallow1.conv.w"} {
		t.Run(name, func(t *testing.T) {
			net := mustDefaultNet(t, 1)
			x := randomValues(rand.New(rand.NewPCG(15, 16)), 2*net.InputShape().Size())
			before := net.Forward(x, 2)
			w := net.weights[name]
			for i := range w {
				w[i] *= -0.5
			}
			fresh := newNet(net.arch, net.weights, 1)
			got, want := net.Forward(x, 2), fresh.Forward(x, 2)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatal("embeddings after the change differ from a fresh Net's")
			}
			if fmt.Sprint(got) == fmt.Sprint(before) {
				t.Fatal("the change made no difference: the test proves nothing")
			}
		})
	}
	if sameBits([]float32{0}, []float32{float32(math.Copysign(0, -1))}) {
		t.Error("0 and -0 count as the same weights")
	}
}

func randomValues(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

// mustDefaultNet is the Net of DefaultSpec with Initialize(1)'s weights,
// on the given number of workers.
func mustDefaultNet(t *testing.T, workers int) *Net {
	t.Helper()
	m, err := New(DefaultSpec(), UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(1)
	net, err := NewNet(m, &NetOptions{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// raceEnabled is set in builds with the race detector (race_test.go).
var raceEnabled bool

// TestForwardAllocations checks that a Net on one worker allocates nothing
// in steady state but the embeddings it returns: every buffer between
// layers is reused from batch to batch.
func TestForwardAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	net := mustDefaultNet(t, 1)
	const batch = 3
	x := randomValues(rand.New(rand.NewPCG(7, 8)), batch*net.InputShape().Size())
	net.Forward(x, batch) // the first batch sizes the buffers
	if allocs := testing.AllocsPerRun(5, func() { net.Forward(x, batch) }); allocs > 1 {
		t.Errorf("%.1f allocations a batch, want 1 (the result)", allocs)
	}
}

// TestSum checks the eight-way sum behind global average pooling against a
// float64 sum, for every length around its blocks of eight.
func TestSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := range 27 {
		v := randomValues(rng, n)
		var want float64
		for _, x := range v {
			want += float64(x)
		}
		if got := sum(v); math.Abs(float64(got)-want) > 1e-5 {
			t.Errorf("sum of %d values = %g, want %g", n, got, want)
		}
	}
}

// TestForwardWorkers checks that workers taking images as they come free
// give the embeddings one worker gives, to the bit, for batches that do
// and do not divide among them, and that a Net is safe for concurrent use
// (with -race): two batches run at once on the same Net.
func TestForwardWorkers(t *testing.T) {
	one, many := mustDefaultNet(t, 1), mustDefaultNet(t, 3)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, batch := range []int{1, 2, 6, 7} {
		x := randomValues(rng, batch*one.InputShape().Size())
		want := one.Forward(x, batch)
		got := make([][]float32, 2)
		done := make(chan int)
		for g := range got {
			go func() {
				got[g] = many.Forward(x, batch)
				done <- g
			}()
		}
		<-done
		<-done
		for g := range got {
			for i := range want {
				if got[g][i] != want[i] {
					t.Fatalf("batch %d, call %d: value %d is %g with 3 workers, %g with one", batch, g, i, got[g][i], want[i])
				}
			}
		}
	}
}
