package rerank

import (
	"cmp"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Keypoint verification: a second, stricter way to tell a copy from a
// look-alike. Corners are found on a small pyramid of each picture's luma
// (in its square, or at its own aspect), each described by binary
// intensity tests turned to the corner's own orientation (as ORB does),
// and matched between query and hit; the hit's score is the number of
// matches one similarity transform (shift, turn, zoom) carries onto each
// other. A copy cropped, turned, shrunk, greyed or recoloured keeps many
// of its corners in place (on the validation sets, a median of 17 to 118
// by edit), an image that merely shares a layout or a style few (a median
// of 2); a copy blurred past its corners (a small image cropped and
// enlarged, thin line art) keeps none either.

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
	x, y float32 // in the coordinates of the plane it was found on
	desc [kpBits / 64]uint64
}

// features are a picture's described corners.
type features struct {
	points []keypoint
}

// plane is a luma picture of w x h pixels, row by row.
type plane struct {
	w, h int
	pix  []float32
}

func (p plane) at(x, y int) float32 { return p.pix[y*p.w+x] }

// kpMaxAspect bounds the aspect corners are found at: a banner longer
// than this keeps too few rows for a corner's descriptor.
const kpMaxAspect = 4

// features returns the picture's corners and descriptors; mirror takes
// them from its mirror image instead (a query's, so that a mirrored copy
// matches too). They are found in the square that squashes the picture,
// or, with ownAspect, at its own aspect at about the square's number of
// pixels: in the square, a turn of a picture that is not square, or a
// crop that changes its aspect, stretches corners unlike the original's
// and is not a similarity (Options.OwnAspect says what each way gives).
func (p *Picture) features(mirror, ownAspect bool) *features {
	square := luma(p.square)
	if mirror {
		mirrorRows(square, pictureSide)
	}
	base := plane{pictureSide, pictureSide, square}
	if ownAspect {
		a := min(max(p.aspect, 1.0/kpMaxAspect), kpMaxAspect)
		if w, h := int(math.Round(pictureSide*math.Sqrt(a))), int(math.Round(pictureSide/math.Sqrt(a))); w != pictureSide || h != pictureSide {
			base = resample(base, w, h)
		}
	}
	return find(base)
}

// find returns the described corners of a pyramid of base, in base's
// coordinates.
func find(base plane) *features {
	f := &features{}
	img := base
	for level := range kpLevels {
		if level > 0 {
			shrink := math.Pow(kpStep, float64(level))
			img = resample(img, int(math.Round(float64(base.w)/shrink)), int(math.Round(float64(base.h)/shrink)))
		}
		smooth := blur(img, 1.2, 1.2)
		most := int(kpMost * float64(img.w*img.h) / (pictureSide * pictureSide))
		sx, sy := float32(base.w)/float32(img.w), float32(base.h)/float32(img.h)
		for _, c := range corners(smooth, most) {
			k := keypoint{x: float32(c.x) * sx, y: float32(c.y) * sy}
			k.desc = describe(smooth, c.x, c.y)
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
func corners(img plane, most int) []corner {
	w, h := img.w, img.h
	ixx := plane{w, h, make([]float32, w*h)}
	iyy := plane{w, h, make([]float32, w*h)}
	ixy := plane{w, h, make([]float32, w*h)}
	at := img.at
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			gx := (at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x-1, y) - at(x-1, y+1)) / 8
			gy := (at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x, y-1) - at(x+1, y-1)) / 8
			i := y*w + x
			ixx.pix[i], iyy.pix[i], ixy.pix[i] = gx*gx, gy*gy, gx*gy
		}
	}
	xx, yy, xy := blur(ixx, 1.5, 1.5).pix, blur(iyy, 1.5, 1.5).pix, blur(ixy, 1.5, 1.5).pix
	resp := make([]float32, w*h)
	var strongest float32
	for i := range resp {
		tr := xx[i] + yy[i]
		resp[i] = xx[i]*yy[i] - xy[i]*xy[i] - 0.04*tr*tr
		strongest = max(strongest, resp[i])
	}
	// Flat pictures have no corners; faint ones, next to the strongest,
	// are noise (JPEG blocks) more than structure.
	floor := max(strongest*0.01, 1e-9)
	border := kpRadius + 2
	var found []corner
	for y := border; y < h-border; y++ {
		for x := border; x < w-border; x++ {
			r := resp[y*w+x]
			if r <= floor {
				continue
			}
			peak := true
			for dy := -1; dy <= 1 && peak; dy++ {
				for dx := -1; dx <= 1; dx++ {
					v := resp[(y+dy)*w+x+dx]
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
func describe(img plane, cx, cy int) [kpBits / 64]uint64 {
	const r = 7
	var mx, my float64
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy > r*r {
				continue
			}
			v := float64(img.at(cx+dx, cy+dy))
			mx += float64(dx) * v
			my += float64(dy) * v
		}
	}
	angle := math.Atan2(my, mx)
	sin, cos := float32(math.Sin(angle)), float32(math.Cos(angle))
	sample := func(dx, dy float32) float32 {
		x := float32(cx) + dx*cos - dy*sin
		y := float32(cy) + dx*sin + dy*cos
		return bilinear(img, x, y)
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

// blur returns img smoothed by a Gaussian of sigma sx across and sy down
// (none where it is 0), edges clamped.
func blur(img plane, sx, sy float64) plane {
	// Each pass pads its line by the edge values, so that the sums need
	// no clamping.
	pass := func(dst, src []float32, sigma float64, lines, n, lineStride, stride int) {
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
		line := make([]float32, n+2*radius)
		for l := range lines {
			start := l * lineStride
			for i := range line {
				line[i] = src[start+min(max(i-radius, 0), n-1)*stride]
			}
			for i := range n {
				var s float32
				for k, w := range kernel {
					s += w * line[i+k]
				}
				dst[start+i*stride] = s
			}
		}
	}
	across := img.pix
	if sx > 0 {
		across = make([]float32, len(img.pix))
		pass(across, img.pix, sx, img.h, img.w, img.w, 1)
	}
	out := plane{img.w, img.h, make([]float32, len(img.pix))}
	if sy > 0 {
		pass(out.pix, across, sy, img.w, img.h, 1, img.w)
	} else {
		copy(out.pix, across)
	}
	return out
}

// resample returns img at w x h, smoothed first along each side it
// shrinks so that it does not alias.
func resample(img plane, w, h int) plane {
	sigma := func(from, to int) float64 {
		if to >= from {
			return 0
		}
		return 0.5 * float64(from) / float64(to)
	}
	smooth := blur(img, sigma(img.w, w), sigma(img.h, h))
	out := plane{w, h, make([]float32, w*h)}
	fx, fy := float32(img.w)/float32(w), float32(img.h)/float32(h)
	for y := range h {
		for x := range w {
			out.pix[y*w+x] = bilinear(smooth, (float32(x)+0.5)*fx-0.5, (float32(y)+0.5)*fy-0.5)
		}
	}
	return out
}

// bilinear samples img at (x, y), edges clamped.
func bilinear(img plane, x, y float32) float32 {
	x = min(max(x, 0), float32(img.w-1))
	y = min(max(y, 0), float32(img.h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, img.w-1), min(y0+1, img.h-1)
	fx, fy := x-float32(x0), y-float32(y0)
	top := img.at(x0, y0)*(1-fx) + img.at(x1, y0)*fx
	bottom := img.at(x0, y1)*(1-fx) + img.at(x1, y1)*fx
	return top*(1-fy) + bottom*fy
}
