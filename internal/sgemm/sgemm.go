package sgemm

import (
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/deeprank/deeprank/internal/blascheck"
)

// Implementation is gonum's BLAS with Sgemm done by this package. It
// satisfies gonum's blas.Float32Level3 and gorgonia's BLAS interface.
type Implementation struct{ gonum.Implementation }

// Describe names the kernel this process multiplies with.
func Describe() string { return "deeprank sgemm, " + kernelName }

// Block sizes. The 6x16 tile uses 12 of the 16 ymm registers as
// accumulators. A KC x NR panel of B (16 KiB) stays in L1 while the kernel
// walks an MC x KC block of A (144 KiB) held in L2; NC bounds the packed B
// block (4 MiB) so it stays in L3.
const (
	mr = 6
	nr = 16
	kc = 256
	mc = 144
	nc = 4096

	// B is read in place, not packed, when it is not transposed and
	// either A has at most inPlaceRows rows (few passes over each panel
	// of B, so a copy would cost as much as it saves) or B's row stride is
	// not a multiple of conflictStride values. Rows 2 KiB apart and more
	// (a multiple of it) share a few cache sets and evict each other;
	// other strides are read in place as fast as from a packed copy on
	// Zen 3 (side by side, 256x1152x256 ran 61-84 GFLOP per CPU-second in
	// place and 41-68 packed; 256x1024x256 ran 36-45 in place and 51-67
	// packed).
	inPlaceRows    = 12 * mr
	conflictStride = 512

	// packACols is the least columns of C for which A is packed: each
	// panel of A is then read by many panels of B, and one contiguous
	// stream keeps the kernel fed better than mr rows read in place.
	packACols = 512
)

// parallelWork is the size m*n*k from which a product is split across
// goroutines: below it (about 4 MFLOP, some 60 microseconds) waking and
// joining goroutines costs more than the second core wins.
const parallelWork = 1 << 21

// active counts the goroutines multiplying right now, across all calls, so
// that a call only adds goroutines for cores that would otherwise idle.
var active atomic.Int64

// Sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major
// matrices, as gonum's Sgemm does, with the same checks on its arguments:
// a wrong size panics before anything is read, since the assembly kernel
// writes C through a pointer.
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 || alpha == 0 {
		// Nothing to multiply: gonum scales C by beta and checks the rest.
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	blascheck.Sgemm("sgemm", tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	A := matrix{data: a, ld: lda, trans: tA != blas.NoTrans}
	B := matrix{data: b, ld: ldb, trans: tB != blas.NoTrans}
	C := matrix{data: c, ld: ldc}

	workers := workersFor(m, n, k)
	if workers <= 1 {
		active.Add(1)
		defer active.Add(-1)
		gemm(m, n, k, alpha, A, B, beta, C)
		return
	}
	active.Add(int64(workers))
	defer active.Add(-int64(workers))
	// Split the longer side of C into stripes of whole tiles, one per
	// worker; each packs its own panels, so none waits on another. The
	// calling goroutine takes the first stripe.
	splitN := n >= m
	size, tile := m, mr
	if splitN {
		size, tile = n, nr
	}
	per := roundUp((size+workers-1)/workers, tile)
	stripe := func(lo int) {
		hi := min(lo+per, size)
		if splitN {
			gemm(m, hi-lo, k, alpha, A, B.cols(lo), beta, C.cols(lo))
		} else {
			gemm(hi-lo, n, k, alpha, A.rows(lo), B, beta, C.rows(lo))
		}
	}
	var wg sync.WaitGroup
	for lo := per; lo < size; lo += per {
		wg.Go(func() { stripe(lo) })
	}
	stripe(0)
	wg.Wait()
}

// workersFor is how many goroutines an m x n x k product is split across:
// one below parallelWork, else one per core no other call is using, and no
// more than there are stripes of whole tiles along C's longer side.
func workersFor(m, n, k int) int {
	if m*n*k < parallelWork {
		return 1
	}
	stripes := (m + mr - 1) / mr
	if n >= m {
		stripes = (n + nr - 1) / nr
	}
	return min(runtime.GOMAXPROCS(0)-int(active.Load()), stripes)
}

// matrix is op(M) for a row-major M: M itself, or its transpose when trans
// is set. Element (i, j) of op(M) is data[i*ld+j], or data[j*ld+i].
type matrix struct {
	data  []float32
	ld    int
	trans bool
}

// rows is op(M) from row i on.
func (x matrix) rows(i int) matrix {
	if x.trans {
		x.data = x.data[i:]
	} else {
		x.data = x.data[i*x.ld:]
	}
	return x
}

// cols is op(M) from column j on.
func (x matrix) cols(j int) matrix {
	if x.trans {
		x.data = x.data[j*x.ld:]
	} else {
		x.data = x.data[j:]
	}
	return x
}

// buffers holds one goroutine's packed panels between calls, and its
// scratch tile for edge tiles (a local array would escape to the heap on
// every call, since the kernel is called through a variable).
type buffers struct {
	a, b []float32
	tile [mr * nr]float32
}

var pool = sync.Pool{New: func() any { return new(buffers) }}

// grow returns s resized to n values, reusing its storage when it can.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemm is the single-threaded blocked product C = alpha*op(A)*op(B) + beta*C
// with C m x n, m, n, k > 0.
//
// When C is narrower than packACols the kernel reads A in place, whatever
// its transpose, and only a last panel of fewer than mr rows is copied,
// zero-padded; otherwise each MC block of A is packed. B is packed when
// it is transposed, or when many rows of A reuse it and its stride is one
// that thrashes the cache (see inPlaceRows); otherwise only its last,
// narrower panel is.
func gemm(m, n, k int, alpha float32, A, B matrix, beta float32, C matrix) {
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	tile := buf.tile[:]
	fullRows := m / mr * mr
	inPlaceB := readsBInPlace(m, B)
	packedA := n >= packACols
	rsA, csA := A.ld, 1
	if A.trans {
		rsA, csA = 1, A.ld
	}
	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		fullCols := ncb / nr * nr
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			// The first block of k applies beta; the later ones add to it.
			betaBlock := beta
			if pc > 0 {
				betaBlock = 1
			}
			Ab, Bb := A.cols(pc), B.rows(pc).cols(jc)
			buf.b = grow(buf.b, roundUp(ncb, nr)*kcb)
			if inPlaceB {
				if fullCols < ncb {
					packB(buf.b[fullCols*kcb:], Bb.cols(fullCols), kcb, ncb-fullCols)
				}
			} else {
				packB(buf.b, Bb, kcb, ncb)
			}
			if !packedA && fullRows < m {
				buf.a = grow(buf.a, mr*kcb)
				packA(buf.a, Ab.rows(fullRows), m-fullRows, kcb)
			}
			for ic := 0; ic < m; ic += mc {
				mcb := min(mc, m-ic)
				if packedA {
					buf.a = grow(buf.a, roundUp(mcb, mr)*kcb)
					packA(buf.a, Ab.rows(ic), mcb, kcb)
				}
				for jr := 0; jr < ncb; jr += nr {
					bp, ldb := buf.b[jr*kcb:(jr+nr)*kcb], nr
					if inPlaceB && jr < fullCols {
						bp, ldb = Bb.data[jr:], B.ld
					}
					for ir := ic; ir < ic+mcb; ir += mr {
						ap, rs, cs := buf.a, 1, mr
						switch {
						case packedA:
							ap = buf.a[(ir-ic)*kcb:]
						case ir < fullRows:
							ap, rs, cs = Ab.rows(ir).data, rsA, csA
						}
						ci := ir*C.ld + jc + jr
						if ir < fullRows && jr < fullCols {
							kernel(kcb, ap, rs, cs, bp, ldb, C.data[ci:], C.ld, alpha, betaBlock)
							continue
						}
						// An edge tile: multiply into scratch, store what fits.
						kernel(kcb, ap, rs, cs, bp, ldb, tile, nr, 1, 0)
						storeEdge(C.data[ci:], C.ld, tile, min(mr, m-ir), min(nr, ncb-jr), alpha, betaBlock)
					}
				}
			}
		}
	}
}

// readsBInPlace says whether gemm reads B where it is rather than from
// packed panels, for A of m rows (see inPlaceRows).
func readsBInPlace(m int, B matrix) bool {
	return !B.trans && (m <= inPlaceRows || B.ld%conflictStride != 0)
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// storeEdge writes the top-left rows x cols of an mr x nr tile into C as
// alpha*tile + beta*C, not reading C when beta is zero.
func storeEdge(c []float32, ldc int, tile []float32, rows, cols int, alpha, beta float32) {
	for i := range rows {
		dst := c[i*ldc : i*ldc+cols]
		src := tile[i*nr : i*nr+cols]
		switch {
		case beta == 0 && alpha == 1:
			// The common case (every forward product): a plain copy,
			// not a scalar loop.
			copy(dst, src)
		case beta == 0:
			for j, v := range src {
				dst[j] = alpha * v
			}
		default:
			for j, v := range src {
				dst[j] = alpha*v + beta*dst[j]
			}
		}
	}
}
