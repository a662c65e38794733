package jpegscale

import "math"

// boxIDCT[n], for n = 1, 2, 4 and 8, maps the 8 coefficients of a 1-D DCT to n
// outputs, each the mean of the 8/n neighbouring samples that the full
// 8-point inverse DCT gives. Applied along both axes it turns a block into
// the n x n area averages of its exact (unclipped) 8x8 inverse DCT, the
// high frequencies folded in rather than dropped: the scaled decode then
// matches a full decode followed by a box filter, which is what the
// callers compare it with.
var boxIDCT = [9]*[8][8]float32{1: makeBoxIDCT(1), 2: makeBoxIDCT(2), 4: makeBoxIDCT(4), 8: makeBoxIDCT(8)}

func makeBoxIDCT(n int) *[8][8]float32 {
	var m [8][8]float32
	g := 8 / n
	for i := range n {
		for u := range 8 {
			cu := 1.0
			if u == 0 {
				cu = 1 / math.Sqrt2
			}
			var s float64
			for x := i * g; x < (i+1)*g; x++ {
				s += cu / 2 * math.Cos(float64((2*x+1)*u)*math.Pi/16)
			}
			m[i][u] = float32(s / float64(g))
		}
	}
	return &m
}

// idctReduced writes the nx x ny (each 1, 2, 4 or 8) area averages of the
// inverse DCT of the dequantized coefficients b, level shifted by +128 and
// clipped, into dst.
func idctReduced(b *block, nx, ny int, dst []byte, stride int) {
	mx, my := boxIDCT[nx], boxIDCT[ny]
	// tmp[v][x] is coefficient row v (vertical frequency v) transformed
	// along x. Most rows of a real photo's block are all zero: skip them.
	var tmp [8][8]float32
	for v := range 8 {
		row := b[8*v : 8*v+8 : 8*v+8]
		if row[0]|row[1]|row[2]|row[3]|row[4]|row[5]|row[6]|row[7] == 0 {
			continue
		}
		for x := range nx {
			var s float32
			for u, c := range row {
				s += mx[x][u] * float32(c)
			}
			tmp[v][x] = s
		}
	}
	for y := range ny {
		for x := range nx {
			var s float32
			for v := range 8 {
				s += my[y][v] * tmp[v][x]
			}
			dst[y*stride+x] = level(s)
		}
	}
}

// zigOf maps a natural-order index to its zig-zag index: the inverse of unzig.
var zigOf = func() (z [blockSize]int) {
	for zig, nat := range unzig {
		z[nat] = zig
	}
	return z
}()

// idct2x2 is idctReduced for 2x2 outputs, on coefficients b not yet
// dequantized by qt (in zig-zag order). This is the chroma of a 4:2:0
// photo decoded at 1/8, a third of all blocks there, so it gets its own
// code: averaged over half a block, the even frequencies but 0 cancel out
// (the half-block means of their cosines are 0) and each odd one adds to
// one half what it takes from the other. Only 25 of the 64 coefficients
// count.
func idct2x2(b, qt *block, dst []byte, stride int) {
	k := &boxIDCT[2][0]
	f := func(v, u int) float32 {
		i := 8*v + u
		return float32(b[i] * qt[zigOf[i]])
	}
	// p[dv][du]: the sum of the terms whose vertical (dv) and horizontal
	// (du) frequencies are odd (1) or zero (0).
	var p [2][2]float32
	p[0][0] = k[0] * k[0] * f(0, 0)
	for o := 1; o < 8; o += 2 {
		p[0][1] += k[0] * k[o] * f(0, o)
		p[1][0] += k[o] * k[0] * f(o, 0)
		for u := 1; u < 8; u += 2 {
			p[1][1] += k[o] * k[u] * f(o, u)
		}
	}
	for y := range 2 {
		for x := range 2 {
			sy, sx := float32(1-2*y), float32(1-2*x)
			dst[y*stride+x] = level(p[0][0] + sx*p[0][1] + sy*p[1][0] + sx*sy*p[1][1])
		}
	}
}

// level shifts an inverse DCT output by +128, rounds it and clips it to
// [0, 255].
func level(s float32) uint8 {
	s += 128.5 // +0.5: the conversion below truncates
	switch {
	case s <= 0:
		return 0
	case s >= 255:
		return 255
	}
	return uint8(s)
}
