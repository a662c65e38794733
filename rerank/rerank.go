// Package rerank orders a search's first hits again by how well the
// query's picture lines up with each hit's picture.
//
// A model's vectors know what a picture shows but not where a crop of it
// sits, so a cropped copy is often found among the first few hits and not
// first. Lining the pictures up tells the copy from images that merely
// look alike, in two ways. First, the query's luma, shrunk to 55% to 100%
// of a small thumbnail's side (and mirrored, and turned back by 5 or 10
// degrees either way), is slid over every place of the hit's luma
// thumbnail, and the best normalised cross-correlation (NCC) is taken.
// Both are squashed to squares; for a hit of another shape than the
// query's (up to a ratio of about 2.9), the query (and its mirror image) is
// also shrunk to the rectangle a crop of its shape takes in the hit's
// square.
// NCC ignores brightness and contrast, so greyscale and colour-shifted
// copies line up as well. Second, corners are matched (Query.Inliers):
// how many of the query's corners one shift, turn and zoom carries onto
// the hit's. Many windows of one layout correlate at a thumbnail's
// size; far fewer keep their corners in place. A hit's squared distance d is
// then ranked as d - Weight*max(0, NCC-Floor) - Corners*c, where c rises
// from 0 at CornersFrom inliers to 1 at CornersTo: only a match above its
// floor counts, which leaves images that are alike but not copies in the
// vectors' order.
package rerank

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"slices"
	"sync"

	"github.com/deeprank/deeprank/imageio"
)

const (
	// pictureSide is the side of a Picture's square, which templates are
	// cut from: each template is shrunk from it once (64 found a crop in
	// a hundred fewer: RUN-NOTES' sixtieth).
	pictureSide = 128
	// thumbSide is the side of the thumbnail templates slide over.
	thumbSide = 32
)

// Options tune re-ranking. The zero value turns it off.
type Options struct {
	// Top is how many of the nearest hits are ordered again, at most
	// 1000; 0 or 1 leaves the order as it is. Search asks the store for
	// at least Top hits, and each of them is read from its file.
	Top int `json:"top"`
	// Weight is what a perfect match takes off a squared Euclidean
	// distance between unit vectors, per unit of match above Floor.
	Weight float64 `json:"weight"`
	// Floor is the match (NCC, at most 1) at and below which a hit gains
	// nothing.
	Floor float64 `json:"floor"`
	// Corners is what a hit whose corners line up with the query's takes
	// off its squared distance at most; 0 leaves corners out.
	Corners float64 `json:"corners"`
	// CornersFrom is the number of inliers (Query.Inliers, or
	// Query.InliersAtOwnAspect with OwnAspect; Default's 4 and 28 were
	// chosen for the first) at and below which a hit gains nothing from
	// its corners, CornersTo the number from which it gains all of
	// Corners; in between, a share in proportion. CornersTo at or below
	// CornersFrom makes it a step: all of Corners above CornersFrom,
	// nothing at or below.
	CornersFrom int `json:"corners_from"`
	CornersTo   int `json:"corners_to"`
	// OwnAspect finds corners at each picture's own aspect rather than
	// in the square that squashes it (Query.InliersAtOwnAspect), so that
	// a crop that changes the aspect, or a turn of a picture that is not
	// square, keeps its corners in place. Aspects beyond 1/4..4 are
	// taken as 1/4 or 4, so a longer banner stays partly squashed (and
	// may keep fewer corners than in the square). On the default model's
	// validation sets it finds crops of half of one side and 90% of the
	// other first 67% of the time rather than 58%, and a query or a few
	// fewer of the other edits (RUN-NOTES, the sixty-sixth), which is
	// why Default leaves it off.
	OwnAspect bool `json:"own_aspect"`
}

// maxTop is the most hits Options may order again: a search asks for
// that many (Options.Search), and each is read from its file.
const maxTop = 1000

// Default returns the options chosen on the default model's validation
// sets (models/default/RUN-NOTES.md, the fifty-ninth, sixty-fifth and
// seventy-third candidates).
func Default() Options {
	return Options{Top: 20, Weight: 2, Floor: 0.85, Corners: 1, CornersFrom: 4, CornersTo: 28}
}

// On reports whether o changes any order.
func (o Options) On() bool { return o.Top > 1 && (o.Weight > 0 || o.Corners > 0) }

// Validate reports a field out of range, by its name.
func (o Options) Validate() error {
	switch {
	case o.Top < 0:
		return fmt.Errorf("top %d is negative; 0 turns re-ranking off", o.Top)
	case o.Top > maxTop:
		return fmt.Errorf("top %d is above %d: each hit ordered again reads its file", o.Top, maxTop)
	case o.Weight < 0 || math.IsNaN(o.Weight) || math.IsInf(o.Weight, 0):
		return fmt.Errorf("weight %v must be a number of 0 or more", o.Weight)
	case !(o.Floor >= -1 && o.Floor < 1):
		return fmt.Errorf("floor %v must be in [-1, 1)", o.Floor)
	case o.Corners < 0 || math.IsNaN(o.Corners) || math.IsInf(o.Corners, 0):
		return fmt.Errorf("corners %v must be a number of 0 or more", o.Corners)
	case o.CornersFrom < 0:
		return fmt.Errorf("corners_from %d is negative", o.CornersFrom)
	case o.Corners > 0 && o.CornersTo <= o.CornersFrom:
		return fmt.Errorf("corners_to %d must be above corners_from %d", o.CornersTo, o.CornersFrom)
	}
	return nil
}

// Match is how a hit's picture lines up with the query's. Its zero
// value but NCC -1 gains nothing: the Match of a hit whose picture
// cannot be read, and what Options.Match leaves in a field the options
// do not weigh.
type Match struct {
	// NCC is the best normalised cross-correlation of the query's
	// templates with the hit's thumbnail, in [-1, 1]; -1 when either is
	// flat.
	NCC float64
	// Inliers is Query.Inliers (or Query.InliersAtOwnAspect, with
	// Options.OwnAspect): how many of the query's corners (or its mirror
	// image's) one similarity carries onto the hit's.
	Inliers int
}

// noMatch gains nothing.
var noMatch = Match{NCC: -1}

// Order returns the order of the first hits after re-ranking: indexes
// into dist, which holds the hits' squared Euclidean distances, nearest
// first. Only the first o.Top are ordered again, by dist[i] less the
// bonus their Match earns (see the package doc), ties kept in their
// order; match is called once for each of them. The hits after them keep
// their places.
func (o Options) Order(dist []float64, match func(i int) Match) []int {
	order := make([]int, len(dist))
	for i := range order {
		order[i] = i
	}
	if !o.On() {
		return order
	}
	top := order[:min(o.Top, len(order))]
	score := make([]float64, len(top))
	for _, i := range top {
		m := match(i)
		score[i] = dist[i] - o.Weight*max(0, m.NCC-o.Floor)
		if o.Corners > 0 {
			score[i] -= o.Corners * o.cornerShare(m.Inliers)
		}
	}
	slices.SortStableFunc(top, func(a, b int) int {
		switch {
		case score[a] < score[b]:
			return -1
		case score[a] > score[b]:
			return 1
		}
		return 0
	})
	return order
}

// cornerShare is the share of Corners a hit of the given inliers gains.
func (o Options) cornerShare(inliers int) float64 {
	if o.CornersTo <= o.CornersFrom {
		if inliers > o.CornersFrom {
			return 1
		}
		return 0
	}
	share := float64(inliers-o.CornersFrom) / float64(o.CornersTo-o.CornersFrom)
	return min(1, max(0, share))
}

// Picture is an image as re-ranking compares it.
type Picture struct {
	square *image.RGBA // pictureSide a side, its own copy
	// aspect is the image's own width over its height: the square
	// squashes it, a template's turn is the picture's, squashed alike,
	// and Options.OwnAspect finds corners with the squashing undone.
	aspect float64
}

// NewPicture takes the picture of an image from its square (as imageio
// squares it: the default model's 128 pixels a side, any other size
// resampled) and its own size. It keeps a copy of the square's pixels.
func NewPicture(square *image.RGBA, full image.Point) *Picture {
	var own *image.RGBA
	if b := square.Rect; b.Dx() == pictureSide && b.Dy() == pictureSide {
		own = image.NewRGBA(image.Rect(0, 0, pictureSide, pictureSide))
		draw.Draw(own, own.Rect, square, b.Min, draw.Src)
	} else {
		own = imageio.Square(square, pictureSide)
	}
	p := &Picture{square: own, aspect: 1}
	if full.X > 0 && full.Y > 0 {
		p.aspect = float64(full.X) / float64(full.Y)
	}
	return p
}

// Thumb is a hit's side of a comparison: its picture shrunk to the
// thumbnail, with running sums that give any window's mean and spread at
// once, and its corners, found the first time a query asks for them.
type Thumb struct {
	pix []float32
	// sum and sq are summed-area tables of pix and its squares, one row
	// and column larger.
	sum, sq []float64
	// corners are the picture's, found in its square and at its own
	// aspect when first asked for.
	corners, ownCorners func() *features
	// aspect is the picture's own width over its height, which shapes
	// the templates a query lines up with it.
	aspect float64
}

// Thumb returns the picture's thumbnail, for matching against queries.
func (p *Picture) Thumb() *Thumb {
	t := &Thumb{
		pix:        shrink(luma(p.square), pictureSide, thumbSide, thumbSide),
		corners:    sync.OnceValue(func() *features { return p.features(false, false) }),
		ownCorners: sync.OnceValue(func() *features { return p.features(false, true) }),
		aspect:     p.aspect,
	}
	const n = thumbSide + 1
	t.sum, t.sq = make([]float64, n*n), make([]float64, n*n)
	for y := range thumbSide {
		var rs, rq float64
		for x := range thumbSide {
			v := float64(t.pix[y*thumbSide+x])
			rs += v
			rq += v * v
			t.sum[(y+1)*n+x+1] = t.sum[y*n+x+1] + rs
			t.sq[(y+1)*n+x+1] = t.sq[y*n+x+1] + rq
		}
	}
	return t
}

// window returns the sum and the sum of squares of the w x h window at
// (x, y).
func (t *Thumb) window(x, y, w, h int) (sum, sq float64) {
	const n = thumbSide + 1
	a, b, c, d := y*n+x, y*n+x+w, (y+h)*n+x, (y+h)*n+x+w
	return t.sum[d] - t.sum[b] - t.sum[c] + t.sum[a], t.sq[d] - t.sq[b] - t.sq[c] + t.sq[a]
}

// Query is a query's side of a comparison: its picture at every size and
// pose it is looked for in, and its corners and its mirror image's, found
// the first time a hit is matched by them.
type Query struct {
	// templates are made when NCC first asks for them.
	templates func() []template
	// picture is the query's, which shaped templates are cut from.
	picture *Picture
	// shaped are the templates for hits of another shape, the square
	// ones and those cut to that shape, by the step of the ratio of
	// shapes (shapeStep) they were cut for; mu guards it.
	mu     sync.Mutex
	shaped map[int][]template
	// corners are the picture's and its mirror image's, found in its
	// square and at its own aspect when first asked for.
	corners, ownCorners func() [2]*features
}

// template is a centred, unit-length w x h rectangle of luma.
type template struct {
	w, h int
	pix  []float32
}

// Template sizes, as shares of the thumbnail's side: the whole picture
// and crops of it down to 55% of each side.
var scales = []float64{0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1}

// Turns undone, in degrees, and the sizes a turned template is looked for
// at: its middle 80% (the corners of a turned copy come from outside the
// picture) as a share of the thumbnail's side.
var (
	turns      = []float64{-10, -5, 5, 10}
	turnScales = []float64{0.8, 0.72, 0.64}
)

// The query's aspect over a hit's is taken in steps of shapeStep of a
// doubling (6%). A hit within sameShape steps of the query's shape is
// lined up with the square templates alone. A hit of another shape is
// lined up with templates squashed as a crop of that shape would be in
// the hit's square as well (a crop of half the width and 90% of the
// height of a square picture is 16 by 29 pixels of its 32-pixel
// thumbnail, not a square), and with the square ones still, which a copy
// stretched to the hit's shape lines up with. Beyond mostShape steps
// (rounded: a ratio of about 2.9) the shaped templates are too thin to
// tell pictures apart, lining up unrelated ones often, and only the
// square ones are tried.
const (
	shapeStep = 12
	sameShape = 2
	mostShape = 18
)

// NewQuery prepares the query's side of a comparison; its templates and
// corners are made when first used.
func (p *Picture) NewQuery() *Query {
	both := func(ownAspect bool) func() [2]*features {
		return sync.OnceValue(func() [2]*features {
			return [2]*features{p.features(false, ownAspect), p.features(true, ownAspect)}
		})
	}
	return &Query{templates: sync.OnceValue(p.templates), picture: p, shaped: map[int][]template{}, corners: both(false), ownCorners: both(true)}
}

// templatesFor returns the templates the query lines up with a hit of the
// given aspect by: the square ones, and for a hit of another shape (but
// not too far from the query's) shaped ones as well, cut once for each
// step of the ratio of their shapes.
func (q *Query) templatesFor(hitAspect float64) []template {
	step := int(math.Round(shapeStep * math.Log2(q.picture.aspect/hitAspect)))
	if abs := max(step, -step); abs <= sameShape || abs > mostShape {
		return q.templates()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.shaped[step]; !ok {
		square := slices.Clip(q.templates())
		q.shaped[step] = append(square, q.picture.shapedTemplates(math.Exp2(float64(step)/shapeStep))...)
	}
	return q.shaped[step]
}

// shapedTemplates cuts the whole picture, and its mirror image, at every
// scale, shrunk to a rectangle whose width over its height is ratio (the
// query's aspect over the hit's): the shape a crop of the picture's shape
// takes in the hit's square. Its longer side is the scale's share of the
// thumbnail's side.
func (p *Picture) shapedTemplates(ratio float64) []template {
	var out []template
	whole := luma(p.square)
	for _, f := range scales {
		w, h := f*thumbSide, f*thumbSide
		if ratio > 1 {
			h /= ratio
		} else {
			w *= ratio
		}
		out = cut(out, whole, pictureSide, max(2, int(math.Round(w))), max(2, int(math.Round(h))))
	}
	return out
}

// cut appends to out the side x side src shrunk to w x h, and its mirror
// image, each as a template unless flat.
func cut(out []template, src []float32, side, w, h int) []template {
	for _, mirror := range []bool{false, true} {
		pix := shrink(src, side, w, h)
		if mirror {
			mirrorRows(pix, w)
		}
		if centre(pix) {
			out = append(out, template{w, h, pix})
		}
	}
	return out
}

// templates cuts the picture's templates: the whole and crops of it at
// every scale, each mirrored too, and its middle turned each way.
func (p *Picture) templates() []template {
	var out []template
	whole := luma(p.square)
	for _, f := range scales {
		m := int(math.Round(f * thumbSide))
		out = cut(out, whole, pictureSide, m, m)
	}
	const margin = pictureSide / 10
	inner := pictureSide - 2*margin
	for _, deg := range turns {
		turned := luma(imageio.Rotate(p.square, deg, p.aspect))
		middle := make([]float32, inner*inner)
		for y := range inner {
			copy(middle[y*inner:(y+1)*inner], turned[(y+margin)*pictureSide+margin:])
		}
		for _, f := range turnScales {
			m := int(math.Round(f * thumbSide))
			if pix := shrink(middle, inner, m, m); centre(pix) {
				out = append(out, template{m, m, pix})
			}
		}
	}
	return out
}

// Match lines the query up with a hit's thumbnail in the ways o weighs;
// a way it gives no weight is not computed, and left at NCC -1 or 0
// inliers.
func (o Options) Match(q *Query, t *Thumb) Match {
	m := noMatch
	if o.Weight > 0 {
		m.NCC = q.NCC(t)
	}
	if o.Corners > 0 && o.OwnAspect {
		m.Inliers = q.InliersAtOwnAspect(t)
	} else if o.Corners > 0 {
		m.Inliers = q.Inliers(t)
	}
	return m
}

// Inliers returns how many of the query's corners, or of its mirror
// image's, one similarity (a shift, a turn of up to 30 degrees, a zoom of
// 0.4 to 2) carries onto the corners of t's picture they match, all found
// in the pictures' squares; 0 when fewer than three match at all. A
// corner is counted at each pyramid level it is found on, so one corner
// of the picture may count up to four times: CornersFrom and CornersTo
// are in these units.
func (q *Query) Inliers(t *Thumb) int { return mostInliers(q.corners(), t.corners()) }

// InliersAtOwnAspect is Inliers with the corners found at each picture's
// own aspect.
func (q *Query) InliersAtOwnAspect(t *Thumb) int {
	return mostInliers(q.ownCorners(), t.ownCorners())
}

// mostInliers is the larger of the inliers of a query's corners and of
// its mirror image's with a hit's.
func mostInliers(query [2]*features, hit *features) int {
	return max(query[0].inliers(hit), query[1].inliers(hit))
}

// NCC returns the best normalised cross-correlation of any of the
// query's templates for t's shape with any window of t, in [-1, 1]; -1
// when no template or window has any contrast (a flat picture matches
// nothing).
func (q *Query) NCC(t *Thumb) float64 {
	best := -1.0
	for _, tp := range q.templatesFor(t.aspect) {
		w, h := tp.w, tp.h
		area := float64(w * h)
		for y := 0; y+h <= thumbSide; y++ {
			for x := 0; x+w <= thumbSide; x++ {
				sum, sq := t.window(x, y, w, h)
				spread := sq - sum*sum/area
				if spread < 1e-9 {
					continue
				}
				// The template is centred, so its dot product with the
				// window is the one with the window centred.
				var dot float32
				for r := range h {
					win := t.pix[(y+r)*thumbSide+x : (y+r)*thumbSide+x+w]
					for c, v := range tp.pix[r*w : (r+1)*w] {
						dot += v * win[c]
					}
				}
				// float32 sums can put a perfect match a hair above 1.
				best = max(best, min(1, float64(dot)/math.Sqrt(spread)))
			}
		}
	}
	return best
}

// shrink averages a side x side image down to w x h, each source pixel
// counted in the one target pixel its top-left corner falls in.
func shrink(src []float32, side, w, h int) []float32 {
	out := make([]float32, w*h)
	count := make([]int, w*h)
	for y := range side {
		ty := y * h / side
		for x := range side {
			i := ty*w + x*w/side
			out[i] += src[y*side+x]
			count[i]++
		}
	}
	for i, n := range count {
		out[i] /= float32(n)
	}
	return out
}

// centre makes pix zero-mean and unit-length; it reports false for a flat
// pix, which can be neither.
func centre(pix []float32) bool {
	var mean float64
	for _, v := range pix {
		mean += float64(v)
	}
	mean /= float64(len(pix))
	var norm float64
	for i, v := range pix {
		d := float64(v) - mean
		pix[i] = float32(d)
		norm += d * d
	}
	if norm < 1e-9 {
		return false
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range pix {
		pix[i] *= inv
	}
	return true
}

// mirrorRows mirrors an image of rows of the given width left to right,
// in place.
func mirrorRows(pix []float32, width int) {
	for y := range len(pix) / width {
		slices.Reverse(pix[y*width : (y+1)*width])
	}
}

// luma returns the luma of a pictureSide square, in [0, 1].
func luma(img *image.RGBA) []float32 {
	out := make([]float32, 0, pictureSide*pictureSide)
	for y := range pictureSide {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
		for x := range pictureSide {
			r, g, b := row[4*x], row[4*x+1], row[4*x+2]
			out = append(out, imageio.Luma[float32](r, g, b)/255)
		}
	}
	return out
}
