package epilogue

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// transposes are the 8x8 block transposes this machine runs.
func transposes() []struct {
	name string
	fn   func(dst []float32, ldd int, src []float32, lds int)
} {
	type impl = struct {
		name string
		fn   func(dst []float32, ldd int, src []float32, lds int)
	}
	out := []impl{{"go", func(dst []float32, ldd int, src []float32, lds int) {
		transposeGo(dst, ldd, src, lds, 0, block, 0, block)
	}}}
	if kernelName != "pure Go" {
		out = append(out, impl{kernelName, transpose8x8})
	}
	return out
}

// checkTranspose transposes a random rows x cols matrix with padded
// strides and checks every value, and that dst's padding is untouched.
func checkTranspose(t *testing.T, rng *rand.Rand, rows, cols, padS, padD int) {
	t.Helper()
	lds, ldd := cols+padS, rows+padD
	src := random(rng, rows*lds)
	dst := random(rng, cols*ldd)
	dst0 := append([]float32(nil), dst...)
	Transpose(dst, ldd, src, lds, rows, cols)
	for j := range cols {
		for i := range ldd {
			want := dst0[j*ldd+i]
			if i < rows {
				want = src[i*lds+j]
			}
			if got := dst[j*ldd+i]; got != want {
				t.Fatalf("%dx%d (pads %d, %d): dst[%d][%d] = %v, want %v", rows, cols, padS, padD, j, i, got, want)
			}
		}
	}
}

// TestTranspose checks every implementation on sizes around the 8x8
// blocks, padded strides, and the windowed convolutions' products.
func TestTranspose(t *testing.T) {
	sizes := []struct{ rows, cols, padS, padD int }{
		{1, 1, 0, 0}, {8, 8, 0, 0}, {7, 9, 1, 2}, {9, 7, 0, 3}, {16, 24, 8, 0},
		{17, 33, 3, 5}, {1024, 32, 0, 0}, {64, 64, 0, 0}, {16, 64, 0, 0}, {3, 40, 2, 1},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, im := range transposes() {
		t.Run(im.name, func(t *testing.T) {
			saved := transpose8x8
			transpose8x8 = im.fn
			t.Cleanup(func() { transpose8x8 = saved })
			for _, s := range sizes {
				t.Run(fmt.Sprintf("%dx%d", s.rows, s.cols), func(t *testing.T) {
					checkTranspose(t, rng, s.rows, s.cols, s.padS, s.padD)
				})
			}
		})
	}
}

// TestTransposeRefusesShortSlices checks that strides or slices too short
// for the matrix panic rather than write out of place.
func TestTransposeRefusesShortSlices(t *testing.T) {
	tests := []struct {
		name             string
		ls, ld, lds, ldd int
		rows, cols       int
	}{
		{"src short", 8*8 - 1, 64, 8, 8, 8, 8},
		{"dst short", 64, 8*8 - 1, 8, 8, 8, 8},
		{"lds below cols", 64, 64, 7, 8, 8, 8},
		{"ldd below rows", 64, 64, 8, 7, 8, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Transpose(make([]float32, tt.ld), tt.ldd, make([]float32, tt.ls), tt.lds, tt.rows, tt.cols)
		})
	}
}

// FuzzTranspose fuzzes sizes and stride paddings.
func FuzzTranspose(f *testing.F) {
	f.Add(uint8(9), uint8(17), uint8(1), uint8(0), uint64(1))
	f.Fuzz(func(t *testing.T, rows, cols, padS, padD uint8, seed uint64) {
		if rows == 0 || cols == 0 {
			t.Skip()
		}
		checkTranspose(t, rand.New(rand.NewPCG(seed, 7)), int(rows%70), int(cols%70), int(padS%9), int(padD%9))
	})
}
