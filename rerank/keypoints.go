package rerank

import (
	"cmp"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Keypoint verification: a second, stricter way to tell a copy from a
// look-alike. Corners are found on a small pyramid of each picture's luma,
// each described by binary intensity tests turned to the corner's own
// orientation (as ORB does), and matched between query and hit; the hit's
// score is the number of matches one similarity transform (shift, turn,
// zoom) carries onto each other. A copy cropped, turned, shrunk, greyed or
// recoloured keeps many of its corners in place (on the validation sets,
// a median of 17 to 118 by edit), an image that merely shares a layout or
// a style few (a median of 2); a copy blurred past its corners (a
// small image cropped and enlarged, thin line art) keeps none either.

const (
	kpLevels     = 4   // pyramid levels, each kpStep smaller
	kpStep       = 1.2 // side ratio between pyramid levels
	kpMost       = 150 // corners kept at level 0; fewer above, by area
	kpRadius     = 9   // each offset of a descriptor test is within this
	kpBits       = 256 // tests per descriptor
	kpMaxHam     = 80  // a match differs in at most this many tests
	kpRatio      = 0.9 // and is this much nearer than the second nearest
	kpInlierPx   = 3.0 // a transformed corner lands this near its match
	kpTrials     = 256 // transforms tried
	kpMinZoom    = 0.4 // hit side over query side, as the transform scales
	kpMaxZoom    = 2.0
	kpMinTurnCos = 0.866 // cosine of the largest turn allowed (30 degrees)
)

// kpPattern holds the descriptor's test pairs, drawn once with a fixed
// seed so that every picture is described alike: x1, y1, x2, y2 offsets
// from the corner, each Gaussian and drawn again until within kpRadius
// (so a test point may lie up to kpRadius*sqrt(2) away; beyond the
// picture's edge it samples the edge).
var kpPattern = func() [kpBits][4]float32 {
	var p [kpBits][4]float32
	rng := rand.New(rand.NewPCG(20140623, 1))
	for i := range p {
		for j := range 4 {
			for {
				v := rng.NormFloat64() * kpRadius / 2
				if math.Abs(v) <= kpRadius {
					p[i][j] = float32(v)
					break
				}
			}
		}
	}
	return p
}()

type keypoint struct {
	x, y float32 // in the picture's coordinates (pictureSide a side)
	desc [kpBits / 64]uint64
}

// features are a picture's described corners.
type features struct {
	points []keypoint
}

// features returns the picture's corners and descriptors; mirror takes
// them from its mirror image instead (a query's, so that a mirrored copy
// matches too).
func (p *Picture) features(mirror bool) *features {
	img := luma(p.square)
	if mirror {
		mirrorRows(img, pictureSide)
	}
	f := &features{}
	side := pictureSide
	for level := range kpLevels {
		if level > 0 {
			n := int(math.Round(pictureSide / math.Pow(kpStep, float64(level))))
			img, side = resample(img, side, n), n
		}
		smooth := blur(img, side, 1.2)
		most := int(kpMost * float64(side*side) / (pictureSide * pictureSide))
		scale := float32(pictureSide) / float32(side)
		for _, c := range corners(smooth, side, most) {
			k := keypoint{x: float32(c.x) * scale, y: float32(c.y) * scale}
			k.desc = describe(smooth, side, c.x, c.y)
			f.points = append(f.points, k)
		}
	}
	return f
}

type corner struct {
	x, y     int
	response float32
}

// corners returns up to most Harris corners of img, strongest first, each
// the strongest of its 3x3 neighbourhood and far enough from the edge for
// its descriptor.
func corners(img []float32, side, most int) []corner {
	ixx := make([]float32, side*side)
	iyy := make([]float32, side*side)
	ixy := make([]float32, side*side)
	at := func(x, y int) float32 { return img[y*side+x] }
	for y := 1; y < side-1; y++ {
		for x := 1; x < side-1; x++ {
			gx := (at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x-1, y) - at(x-1, y+1)) / 8
			gy := (at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x, y-1) - at(x+1, y-1)) / 8
			i := y*side + x
			ixx[i], iyy[i], ixy[i] = gx*gx, gy*gy, gx*gy
		}
	}
	ixx, iyy, ixy = blur(ixx, side, 1.5), blur(iyy, side, 1.5), blur(ixy, side, 1.5)
	resp := make([]float32, side*side)
	var strongest float32
	for i := range resp {
		tr := ixx[i] + iyy[i]
		resp[i] = ixx[i]*iyy[i] - ixy[i]*ixy[i] - 0.04*tr*tr
		strongest = max(strongest, resp[i])
	}
	// Flat pictures have no corners; faint ones, next to the strongest,
	// are noise (JPEG blocks) more than structure.
	floor := max(strongest*0.01, 1e-9)
	border := kpRadius + 2
	var found []corner
	for y := border; y < side-border; y++ {
		for x := border; x < side-border; x++ {
			r := resp[y*side+x]
			if r <= floor {
				continue
			}
			peak := true
			for dy := -1; dy <= 1 && peak; dy++ {
				for dx := -1; dx <= 1; dx++ {
					v := resp[(y+dy)*side+x+dx]
					if v > r || (v == r && (dy < 0 || (dy == 0 && dx < 0))) {
						peak = false
						break
					}
				}
			}
			if peak {
				found = append(found, corner{x, y, r})
			}
		}
	}
	slices.SortStableFunc(found, func(a, b corner) int { return cmp.Compare(b.response, a.response) })
	return found[:min(most, len(found))]
}

// describe returns the binary tests of the corner at (cx, cy), turned to
// its orientation: the direction from the corner to the centroid of the
// luma around it, which a brightness shift or a contrast gain leaves
// where it is.
func describe(img []float32, side, cx, cy int) [kpBits / 64]uint64 {
	const r = 7
	var mx, my float64
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy > r*r {
				continue
			}
			v := float64(img[(cy+dy)*side+cx+dx])
			mx += float64(dx) * v
			my += float64(dy) * v
		}
	}
	angle := math.Atan2(my, mx)
	sin, cos := float32(math.Sin(angle)), float32(math.Cos(angle))
	sample := func(dx, dy float32) float32 {
		x := float32(cx) + dx*cos - dy*sin
		y := float32(cy) + dx*sin + dy*cos
		return bilinear(img, side, x, y)
	}
	var d [kpBits / 64]uint64
	for i, t := range kpPattern {
		if sample(t[0], t[1]) < sample(t[2], t[3]) {
			d[i/64] |= 1 << (i % 64)
		}
	}
	return d
}

// inliers returns how many of q's corners one similarity transform (no
// mirror, a turn of up to 30 degrees, a zoom of 0.4 to 2) carries onto
// the corners of h they match, within kpInlierPx; 0 when fewer than three
// match at all.
func (q *features) inliers(h *features) int {
	type pair struct{ qx, qy, hx, hy float64 }
	var pairs []pair
	nearest := make([]int, len(h.points)) // each hit corner's nearest query corner
	nearestD := make([]int, len(h.points))
	for j := range nearestD {
		nearestD[j] = math.MaxInt
	}
	// best is each query corner's match: its nearest hit corner, if near
	// enough and clearly nearer than the second nearest; -1 if none.
	best := make([]int, len(q.points))
	for i, a := range q.points {
		d1, d2, j1 := math.MaxInt, math.MaxInt, -1
		for j, b := range h.points {
			d := hamming(&a.desc, &b.desc)
			if d < d1 {
				d1, d2, j1 = d, d1, j
			} else if d < d2 {
				d2 = d
			}
			if d < nearestD[j] {
				nearestD[j], nearest[j] = d, i
			}
		}
		if d1 > kpMaxHam || (d2 != math.MaxInt && float64(d1) >= kpRatio*float64(d2)) {
			j1 = -1
		}
		best[i] = j1
	}
	for i, j := range best {
		// Kept only if each is the other's nearest.
		if j >= 0 && nearest[j] == i {
			a, b := q.points[i], h.points[j]
			pairs = append(pairs, pair{float64(a.x), float64(a.y), float64(b.x), float64(b.y)})
		}
	}
	if len(pairs) < 3 {
		return 0
	}
	// RANSAC over two-pair samples: with complex coordinates, a
	// similarity is h = a*q + b.
	rng := rand.New(rand.NewPCG(uint64(len(pairs)), 7))
	most := 0
	for range kpTrials {
		i, j := rng.IntN(len(pairs)), rng.IntN(len(pairs)-1)
		if j >= i {
			j++
		}
		p1, p2 := pairs[i], pairs[j]
		dq := complex(p2.qx-p1.qx, p2.qy-p1.qy)
		if dq == 0 {
			continue
		}
		a := complex(p2.hx-p1.hx, p2.hy-p1.hy) / dq
		zoom := math.Hypot(real(a), imag(a))
		if zoom < kpMinZoom || zoom > kpMaxZoom || real(a)/zoom < kpMinTurnCos {
			continue
		}
		b := complex(p1.hx, p1.hy) - a*complex(p1.qx, p1.qy)
		n := 0
		for _, p := range pairs {
			w := a*complex(p.qx, p.qy) + b
			if math.Hypot(real(w)-p.hx, imag(w)-p.hy) <= kpInlierPx {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func hamming(a, b *[kpBits / 64]uint64) int {
	n := 0
	for i := range a {
		n += bits.OnesCount64(a[i] ^ b[i])
	}
	return n
}

// blur returns img smoothed by a Gaussian of the given sigma, edges
// clamped.
func blur(img []float32, side int, sigma float64) []float32 {
	radius := int(math.Ceil(2.5 * sigma))
	kernel := make([]float32, 2*radius+1)
	var total float32
	for i := range kernel {
		d := float64(i - radius)
		kernel[i] = float32(math.Exp(-d * d / (2 * sigma * sigma)))
		total += kernel[i]
	}
	for i := range kernel {
		kernel[i] /= total
	}
	// Each pass pads its line by the edge values, so that the sums need
	// no clamping.
	line := make([]float32, side+2*radius)
	pass := func(dst, src []float32, start, stride int) {
		for i := range line {
			line[i] = src[start+min(max(i-radius, 0), side-1)*stride]
		}
		for i := range side {
			win := line[i : i+len(kernel)]
			var s float32
			for k, w := range kernel {
				s += w * win[k]
			}
			dst[start+i*stride] = s
		}
	}
	tmp := make([]float32, len(img))
	for y := range side {
		pass(tmp, img, y*side, 1)
	}
	out := make([]float32, len(img))
	for x := range side {
		pass(out, tmp, x, side)
	}
	return out
}

// resample returns the side x side img at n x n, smoothed first so that
// it does not alias.
func resample(img []float32, side, n int) []float32 {
	smooth := blur(img, side, 0.5*float64(side)/float64(n))
	out := make([]float32, n*n)
	f := float32(side) / float32(n)
	for y := range n {
		for x := range n {
			out[y*n+x] = bilinear(smooth, side, (float32(x)+0.5)*f-0.5, (float32(y)+0.5)*f-0.5)
		}
	}
	return out
}

// bilinear samples img at (x, y), edges clamped.
func bilinear(img []float32, side int, x, y float32) float32 {
	x = min(max(x, 0), float32(side-1))
	y = min(max(y, 0), float32(side-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, side-1), min(y0+1, side-1)
	fx, fy := x-float32(x0), y-float32(y0)
	top := img[y0*side+x0]*(1-fx) + img[y0*side+x1]*fx
	bottom := img[y1*side+x0]*(1-fx) + img[y1*side+x1]*fx
	return top*(1-fy) + bottom*fy
}
