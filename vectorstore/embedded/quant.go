package embedded

import (
	"math"
)

// Search scans int8 codes of the vectors, a quarter of their bytes, and
// measures exactly only the rows that could be among the best.
//
// A vector v is stored beside its code c and scale s: c = round(v/s),
// s = max|v|/127, and r, the norm of the residual v - s*c, rounded up.
// For a query q, s*(q.c) is within |q|*r of q.v (Cauchy-Schwarz), so it
// bounds q.v from both sides, and with it every metric's score. The
// scan keeps the k best upper bounds and every row whose lower bound is
// not above the k-th of them; only those rows' float32 vectors are read
// and scored as before, so a search returns what a scan of every float32
// vector returns, and reads about 0.3 of the bytes (a code's byte and a
// residual's 8 bytes a vector, against its 4 bytes a value).

// quantize writes v's code into codes and returns its scale and the norm
// of what the code leaves out, rounded up.
func quantize(v []float32, codes []int8) (scale, resid float32) {
	scale, inv := codeScale(v)
	if scale == 0 {
		// Zero, or too small to code: all the vector is residual.
		clear(codes[:len(v)])
		return 0, roundUp(math.Sqrt(residual2(v, codes, 0)))
	}
	// Any integer code keeps the bound, since the residual is measured
	// from the code made: the rounding only needs to be near, and fast.
	// Adding and taking away 1.5 x 2^23 rounds a float32 below 2^22 in
	// magnitude to the nearest integer, ties to even, in two adds.
	// The residual is summed in the same pass (residual2's sums, from the
	// codes as floats): BenchmarkQuantize measured a second pass a tenth to a
	// fifth slower.
	const round = 1 << 23 * 1.5
	var r0, r1 float64
	i := 0
	for ; i+2 <= len(v); i += 2 {
		c0, c1 := v[i]*inv+round-round, v[i+1]*inv+round-round
		codes[i], codes[i+1] = int8(c0), int8(c1)
		d0, d1 := float64(v[i])-float64(scale)*float64(c0), float64(v[i+1])-float64(scale)*float64(c1)
		r0 += d0 * d0
		r1 += d1 * d1
	}
	if i < len(v) {
		c := v[i]*inv + round - round
		codes[i] = int8(c)
		d := float64(v[i]) - float64(scale)*float64(c)
		r0 += d * d
	}
	return scale, roundUp(math.Sqrt(r0 + r1))
}

// codeScale returns the scale of v's code, max|v|/127, and its inverse;
// both 0 for a vector of zeros or one too small to code (the inverse
// would overflow).
func codeScale(v []float32) (scale, inv float32) {
	// Comparisons, not max and min, which order NaNs and zeros' signs
	// at several times the cost (the input is finite: upserts check).
	var m float32
	for _, x := range v {
		if x > m {
			m = x
		} else if -x > m {
			m = -x
		}
	}
	if m == 0 || math.IsInf(float64(127/m), 0) {
		return 0, 0
	}
	return m / 127, 127 / m
}

// residual2 is the squared norm of v - scale*codes, in float64, where
// scale*code is exact. Two sums halve the chain of dependent adds.
func residual2(v []float32, codes []int8, scale float32) float64 {
	var r0, r1 float64
	i := 0
	for ; i+2 <= len(v); i += 2 {
		d0 := float64(v[i]) - float64(scale)*float64(codes[i])
		d1 := float64(v[i+1]) - float64(scale)*float64(codes[i+1])
		r0 += d0 * d0
		r1 += d1 * d1
	}
	if i < len(v) {
		d := float64(v[i]) - float64(scale)*float64(codes[i])
		r0 += d * d
	}
	return r0 + r1
}

// codeFits reports whether codes, scale and resid are what quantize makes
// of v in any build: the scale its own, each code a nearest integer to
// v/scale, and resid no smaller than the norm of what the codes leave
// out, which is what search's exactness rests on. Codes are not compared
// to the bit: a build that fuses multiply-adds (GOAMD64=v3, arm64) may
// round a value near a tie the other way, and measures its residual
// from the code it made.
func codeFits(v []float32, codes []int8, scale, resid float32) bool {
	want, inv := codeScale(v)
	if scale != want {
		return false
	}
	for i, x := range v {
		// Half a step, and float32's rounding of x*inv (below 127).
		if math.Abs(float64(codes[i])-float64(x)*float64(inv)) > 0.5+1e-4 {
			return false
		}
	}
	// The sums' order may differ between builds by a few float64
	// roundings, far below the float32 step resid was rounded up to.
	return math.Sqrt(residual2(v, codes, scale)) <= float64(resid)*(1+1e-9)
}

// roundUp is x as a float32 no smaller than x.
func roundUp(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// dotCodesGeneric sets out[r] to the dot product of q and row r of codes,
// rows of len(q) codes one after another.
func dotCodesGeneric(q []float32, codes []int8, out []float32) {
	d := len(q)
	for r := range out {
		row := codes[r*d : (r+1)*d]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= d; i += 4 {
			s0 += q[i] * float32(row[i])
			s1 += q[i+1] * float32(row[i+1])
			s2 += q[i+2] * float32(row[i+2])
			s3 += q[i+3] * float32(row[i+3])
		}
		for ; i < d; i++ {
			s0 += q[i] * float32(row[i])
		}
		out[r] = (s0 + s1) + (s2 + s3)
	}
}

// dotCodes is dotCodesGeneric on the fastest kernel the CPU has.
func dotCodes(q []float32, codes []int8, out []float32) {
	if len(codes) < len(out)*len(q) {
		panic("embedded: dotCodes: codes shorter than out x len(q)")
	}
	if len(out) == 0 || len(q) == 0 {
		clear(out)
		return
	}
	dotCodesKernel(q, codes, out)
}

// bounder turns a code's dot product into bounds on a vector's score.
type bounder struct {
	scorer
	// slack covers float32 rounding, in both the code's dot product and
	// the exact one it bounds: a multiple of d*2^-24 (the worst case of a
	// sum of d products in any order) of |q| times the magnitudes.
	slack float32
	// floor is slack's absolute part, which covers subnormal products'
	// rounding.
	floor float32
}

func newBounder(sc scorer, dim int) bounder {
	slack := 2 * float32(dim+2) / (1 << 24)
	return bounder{scorer: sc, slack: slack, floor: slack * (1 << 24) * math.SmallestNonzeroFloat32}
}

// bounds returns the lower and upper bounds of the score of the nearest
// of a row's vectors, given their codes' dot products with the query,
// their norms, and their scales and residuals (quant, two values a
// vector).
func (b bounder) bounds(codeDots, norms, quant []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(1))
	for j, cd := range codeDots {
		scale, resid, norm := quant[2*j], quant[2*j+1], norms[j]
		approx := scale * cd
		e := b.qn*resid + b.slack*b.qn*(2*norm+resid) + b.floor
		// Every score falls as the dot product rises. A bound that
		// overflows to NaN bounds nothing: the row is then rescored.
		l, h := b.score(approx+e, norm), b.score(approx-e, norm)
		if l != l {
			l = float32(math.Inf(-1))
		}
		if h != h {
			h = float32(math.Inf(1))
		}
		lo, hi = min(lo, l), min(hi, h)
	}
	return lo, hi
}
