package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Backbone names accepted in Spec.Backbone.
const (
	// BackboneCompact is a small VGG-style network sized for CPUs: one 3x3
	// convolution and one 2x2 max-pool per stage, channels doubling per stage.
	BackboneCompact = "compact"
	// BackboneVGG16 is VGG16 without its top, laid out as in the reference
	// implementation: 13 convolutions in 5 blocks with 2x2 max-pools.
	BackboneVGG16 = "vgg16"
)

// Spec describes the multi-scale deep-ranking network once; the trainer and
// the fast forward pass both build from it. The zero value is not valid: start
// from DefaultSpec or ReferenceSpec and change fields.
type Spec struct {
	// InputSize is the side of the square RGB input in pixels (reference 224).
	InputSize int `json:"input_size"`
	// Backbone selects the ConvNet branch: BackboneCompact or BackboneVGG16.
	Backbone string `json:"backbone"`
	// Width is the channel count of the compact backbone's first stage;
	// each further stage doubles it. Ignored by vgg16.
	Width int `json:"width,omitempty"`
	// Stages is the number of conv+pool stages of the compact backbone.
	// Ignored by vgg16.
	Stages int `json:"stages,omitempty"`
	// DenseDim is the width of the two fully connected layers after the
	// backbone's global average pool (reference 4096).
	DenseDim int `json:"dense_dim"`
	// Dropout is the drop probability after each of those layers during
	// training (reference 0.6). Inference never drops.
	Dropout float64 `json:"dropout"`
	// Shallow holds the two shallow branches that see the coarse image.
	Shallow []ShallowBranch `json:"shallow"`
	// ColorFeatures, when above 0, adds a branch of that many units that
	// sees which colours an image holds but not where: a 2x2 convolution of
	// stride 2 with ReLU, averaged over the image, a learned soft histogram
	// of colours (and of the finest texture). Crops, flips and rotations
	// barely move it, where the shallow branches, which keep the layout,
	// move with every pixel. 0 (the reference) has no such branch.
	ColorFeatures int `json:"color_features,omitempty"`
	// PooledBackbones adds further compact backbones beside the main one
	// (branches pooled1, pooled2, ...): 3x3 convolutions and 2x2 max-pools
	// as the compact backbone's, averaged over the image and L2-normalised,
	// without dense layers. They are capacity a grown model can train on
	// its own (trainconfig's freeze) while the old branches stay as they
	// were. None in the reference.
	PooledBackbones []PooledBackbone `json:"pooled_backbones,omitempty"`
	// EmbeddingDim is the size of the learned, L2-normalised embedding
	// (reference 4096). A Thumbnail adds its values after it.
	EmbeddingDim int `json:"embedding_dim"`
	// CenterViews adds views of every image at inference: for each, the
	// centre of the image, that fraction of each side, resampled to the
	// input size. The embedding is the L2-normalised sum of the whole
	// image's embedding and the views'. A cropped copy then meets a view
	// that holds what it kept, and each view costs one more forward pass.
	// Training sees the whole image only. None in the reference.
	CenterViews []float64 `json:"center_views,omitempty"`
	// GreyView, when above 0, adds a view of the image in grey (each
	// pixel's luma in every channel) at inference, its embedding weighted
	// by GreyView in the sum. A greyscale copy then shares that view
	// exactly, while colour, which tells many images apart, keeps the
	// rest of the sum. One more forward pass. 0 (the reference): none.
	GreyView float64 `json:"grey_view,omitempty"`
	// TrimBorders frames every image by its content before the network
	// sees it: squared to SquareSide (twice the input), its plain border
	// trimmed (contentbox.Find) and the rest resized to the input. An
	// icon or a sprite on a plain background, cropped, then keeps its
	// subject at the size and place its original shows it at. Training
	// trims each augmented view the same way. false (the reference): the
	// whole image, squashed.
	TrimBorders bool `json:"trim_borders,omitempty"`
	// TrimView, when above 0, adds a view of the image's content at
	// inference: its plain border (contentbox.Find, found on the input)
	// trimmed and the rest resampled to the input size, its embedding
	// weighted by TrimView in the sum. A cropped icon or sprite then meets
	// its original's subject framed alike in that view, while the whole
	// image, which blur and JPEG move less, keeps the rest of the sum. An
	// image with no plain border has no trimmed view. One more forward
	// pass. 0 (the reference): none.
	TrimView float64 `json:"trim_view,omitempty"`
	// Variants are copies of each image that a collection stores a vector
	// of beside the image's own (vectorstore.Spec.Variants), and a query
	// is as near an image as to the nearest of them: a greyscale or
	// cropped copy meets the variant that holds what it kept. Unlike
	// views, which sum into the one vector every image gets, they are
	// vectors of their own, and only stored images have them: each costs
	// a forward pass at ingest (none at query) and a vector's storage.
	// nil (the reference): none.
	Variants *Variants `json:"variants,omitempty"`
	// Thumbnail sets a coarse picture of the input beside the learned
	// embedding: the input's luma box-averaged to Side x Side and
	// centred, then its colour if ChromaSide says so (not centred), of
	// unit length together. The embedding is the learned one times
	// sqrt(1-Weight) followed by the thumbnail times sqrt(Weight), so
	// the squared distance between two images is (1-Weight) times their
	// learned distance plus Weight times their thumbnails'. A downscaled,
	// recompressed or recoloured copy keeps its luma thumbnail where
	// features learned on fine detail move (colour planes move with a
	// recolouring's tint). A nearly flat thumbnail takes less than its
	// share, none when flat and grey (thumbnailFade). It has no weights
	// and the trainer's loss does not see it (trainer: tune_thumbnail).
	// nil (the reference): none.
	Thumbnail *Thumbnail `json:"thumbnail,omitempty"`
	// AspectWeight, when above 0, ends every vector with one more value:
	// this weight times log2 of the width over the height of what the
	// vector describes, the image or a variant's part of it (a strip of
	// half its width: one less). The network sees every image squashed to
	// a square, so a part of one shape and a whole of another look alike
	// to it; the value keeps them a distance apart, by (weight times the
	// log2 of their shapes' ratio) squared, while a copy that keeps the
	// image's shape loses nothing. Stored strips (Variants.Crops of width
	// or height 1) then meet the crops of their shape and not a square
	// query. The value has no weights and the trainer's loss does not see
	// it. The distance it adds is L2's, which COSINE nearly follows; under
	// IP it is a product of two shapes' values and favours the widest. 0
	// (the reference): none.
	AspectWeight float64 `json:"aspect_weight,omitempty"`
}

// Thumbnail is Spec.Thumbnail.
type Thumbnail struct {
	// Side is the thumbnail's side in pixels; it divides the input size.
	Side int `json:"side"`
	// Weight is the thumbnail's share of the squared distance, in (0, 1).
	Weight float64 `json:"weight"`
	// Fold sums each row of the thumbnail with its mirror image, keeping
	// Side/2 values a row: a mirrored copy then has the same thumbnail,
	// as its learned embedding is nearly the same, and near-duplicates
	// that differ by a mirror stay near (deeprank dupes compares whole
	// vectors). Side and ChromaSide are then even.
	Fold bool `json:"fold,omitempty"`
	// ChromaSide, if not 0, adds the input's colour: its two
	// colour-difference planes (BT.601 Cb and Cr), box-averaged to
	// ChromaSide x ChromaSide, after the luma. They are not centred, so
	// an image's overall tint counts, and each value is weighted by the
	// area it covers, as a luma value is. Icons and frames of an
	// animation that differ only in colour are then apart; a grey copy
	// has no colour and is found by its grey variant (Variants.Grey).
	ChromaSide int `json:"chroma_side,omitempty"`
}

// Layout describes the thumbnail's pictures, e.g. "16x16" or "folded
// 16x16 and 8x8 colour", for logs.
func (t Thumbnail) Layout() string {
	s := fmt.Sprintf("%dx%d", t.Side, t.Side)
	if t.Fold {
		s = "folded " + s
	}
	if c := t.ChromaSide; c != 0 {
		s += fmt.Sprintf(" and %dx%d colour", c, c)
	}
	return s
}

// Dim is the number of values the thumbnail adds to an embedding.
func (t Thumbnail) Dim() int {
	return t.lumaDim() + 2*planeDim(t.ChromaSide, t.Fold)
}

// lumaDim is the number of the thumbnail's luma values, the first.
func (t Thumbnail) lumaDim() int { return planeDim(t.Side, t.Fold) }

// planeDim is the number of values of a plane of side x side, folded or
// not.
func planeDim(side int, fold bool) int {
	if fold {
		return side * side / 2
	}
	return side * side
}

// maxThumbnailSide bounds Thumbnail.Side and ChromaSide: a thumbnail of
// Side x Side luma values and twice ChromaSide x ChromaSide colour values
// is that many more dimensions in every vector stored.
const maxThumbnailSide = 32

// maxAspectWeight bounds Spec.AspectWeight: at 2, a square and a shape
// twice as wide are as far apart as two opposite unit vectors.
const maxAspectWeight = 2

// Variants lists Spec.Variants. An image's vectors come in this order:
// the image's own, its grey copy, its mirror image, its rotations, each
// grid's crops row by row, then its downscaled copies.
type Variants struct {
	// Grey adds the image in grey (imageio.Grey).
	Grey bool `json:"grey,omitempty"`
	// Mirror adds the image flipped left to right.
	Mirror bool `json:"mirror,omitempty"`
	// Rotations adds the image turned by each of these angles, in degrees,
	// anticlockwise for a positive one (imageio.Rotate).
	Rotations []float64 `json:"rotations,omitempty"`
	// Crops adds grids of crops.
	Crops []CropGrid `json:"crops,omitempty"`
	// Downscales adds the image shrunk to each of these fractions of its
	// own width and height, then framed as any image is: a small image's
	// small copy, blurred when it is scaled up to the input, meets a
	// variant blurred alike. An image large enough that the shrunk copy
	// still covers the input at full resolution gets a vector nearly its
	// own.
	Downscales []float64 `json:"downscales,omitempty"`
}

// CropGrid is Grid x Grid crops of an image, each Side of its width and
// height, spread evenly from one corner to the other (a grid of 1: the
// centre). Width and Height, when given, replace Side: crops of that share
// of the width and of the height, which change the picture's aspect, and
// an axis whose share is 1 holds one crop, not Grid (Width 0.5, Height 1
// and a grid of 3: strips of half the width at the left, the middle and
// the right).
type CropGrid struct {
	Grid   int     `json:"grid"`
	Side   float64 `json:"side,omitempty"`
	Width  float64 `json:"width,omitempty"`
	Height float64 `json:"height,omitempty"`
}

// Shares returns the share of the width and of the height each crop
// keeps.
func (g CropGrid) Shares() (width, height float64) {
	if g.Width == 0 && g.Height == 0 {
		return g.Side, g.Side
	}
	return g.Width, g.Height
}

// Places returns how many crops the grid lays across and down: Grid along
// an axis the crops do not fill, one along an axis they do.
func (g CropGrid) Places() (across, down int) {
	w, h := g.Shares()
	across, down = g.Grid, g.Grid
	if w >= 1 {
		across = 1
	}
	if h >= 1 {
		down = 1
	}
	return across, down
}

// Any reports whether v lists a variant.
func (v Variants) Any() bool {
	return v.Grey || v.Mirror || len(v.Rotations) > 0 || len(v.Crops) > 0 || len(v.Downscales) > 0
}

// PerItem is the number of vectors a stored image has: its own, and one
// for each of Variants.
func (s Spec) PerItem() int {
	n := 1
	if v := s.Variants; v != nil {
		if v.Grey {
			n++
		}
		if v.Mirror {
			n++
		}
		n += len(v.Rotations)
		for _, g := range v.Crops {
			across, down := g.Places()
			n += across * down
		}
		n += len(v.Downscales)
	}
	return n
}

// Bounds of Spec.Variants: each is a forward pass at ingest, and a crop
// is cut from the square of SquareSide, twice the input, so that a crop
// of half its side still has the input's resolution.
const (
	maxVariants   = 32
	maxRotation   = 45
	maxCropGrid   = 5
	minCropSide   = 0.5
	minDownscale  = 0.1
	squareUpscale = 2
)

// hasCrops reports whether the spec's variants include crops.
func (s Spec) hasCrops() bool { return s.Variants != nil && len(s.Variants.Crops) > 0 }

// SquareSide is the side images are squared to before they are made the
// network's input (embedder.Prepare): the input size, or twice it when
// the spec trims borders, so that the border is found at a finer
// resolution than the input's, or has crops among its variants, so that
// they are cut at a finer one.
func (s Spec) SquareSide() int {
	if s.TrimBorders || s.hasCrops() {
		return squareUpscale * s.InputSize
	}
	return s.InputSize
}

// maxCenterViews bounds Spec.CenterViews: each one is a forward pass.
const maxCenterViews = 8

// maxTrimView bounds Spec.TrimView: beside the whole image and its centre
// views, the trimmed view may weigh up to twice the whole image.
const maxTrimView = 2

// PooledBackbone is one of Spec.PooledBackbones: Stages conv+pool stages
// whose channels start at Width and double per stage.
type PooledBackbone struct {
	Width  int `json:"width"`
	Stages int `json:"stages"`
}

// ShallowBranch is one of the reference's shallow branches: a strided
// convolution on the full image followed by a max-pool, flattened and
// L2-normalised. Both use Keras 'same' padding.
type ShallowBranch struct {
	Filters    int `json:"filters"`
	Kernel     int `json:"kernel"`
	Stride     int `json:"stride"`
	PoolKernel int `json:"pool_kernel"`
	PoolStride int `json:"pool_stride"`
	// Pooled averages the branch's pooled map over the image instead of
	// flattening it, after a ReLU on the convolution: the branch then says
	// which patterns of its scale the image holds, not where, so a crop or
	// a shift moves it little, where a flattened map moves with every
	// pixel. false is the reference's branch.
	Pooled bool `json:"pooled,omitempty"`
}

// ReferenceSpec is the network of the reference Keras implementation: VGG16 at
// 224x224, dense layers and embedding of 4096.
func ReferenceSpec() Spec {
	return Spec{
		InputSize:    224,
		Backbone:     BackboneVGG16,
		DenseDim:     4096,
		Dropout:      0.6,
		Shallow:      ScaledShallowBranches(224),
		EmbeddingDim: 4096,
	}
}

// DefaultSpec is the compact network used by default: small enough to train
// and embed on a laptop CPU.
func DefaultSpec() Spec {
	return Spec{
		InputSize:    64,
		Backbone:     BackboneCompact,
		Width:        16,
		Stages:       4,
		DenseDim:     256,
		Dropout:      0.3,
		Shallow:      ScaledShallowBranches(64),
		EmbeddingDim: 128,
	}
}

// ScaledShallowBranches returns the reference's shallow branches (96 filters,
// conv 8x8 stride 16 then max-pool 3x3 stride 4; conv 8x8 stride 32 then
// max-pool 7x7 stride 2) with convolution kernel and stride scaled by
// inputSize/224, so that the branches see the same share of the image at any
// input size. The pools are kept as they are. At 224 it is exactly the
// reference.
func ScaledShallowBranches(inputSize int) []ShallowBranch {
	f := float64(inputSize) / 224
	scale := func(v, lo int) int { return max(lo, int(math.Round(float64(v)*f))) }
	return []ShallowBranch{
		{Filters: 96, Kernel: scale(8, 3), Stride: scale(16, 1), PoolKernel: 3, PoolStride: 4},
		{Filters: 96, Kernel: scale(8, 3), Stride: scale(32, 1), PoolKernel: 7, PoolStride: 2},
	}
}

// ErrInvalidSpec is returned (wrapped) when a Spec cannot describe a network.
var ErrInvalidSpec = errors.New("invalid model spec")

// Validate reports the first field that makes s unusable.
func (s Spec) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, field, fmt.Sprintf(format, args...))
	}
	if s.InputSize < 8 || s.InputSize > 1024 {
		return bad("input_size", "%d is outside 8..1024", s.InputSize)
	}
	compact := func(prefix string, width, stages int) error {
		if width < 1 || width > 1024 {
			return bad(prefix+"width", "%d is outside 1..1024", width)
		}
		if stages < 1 || stages > 16 || s.InputSize>>stages < 1 {
			return bad(prefix+"stages", "%d stages of 2x2 pooling do not fit an input of %d", stages, s.InputSize)
		}
		return nil
	}
	switch s.Backbone {
	case BackboneCompact:
		if err := compact("", s.Width, s.Stages); err != nil {
			return err
		}
	case BackboneVGG16:
		if s.InputSize < 32 {
			return bad("input_size", "vgg16 pools 5 times and needs at least 32, got %d", s.InputSize)
		}
	default:
		return bad("backbone", "%q is not one of %q, %q", s.Backbone, BackboneCompact, BackboneVGG16)
	}
	if s.DenseDim < 1 || s.DenseDim > 16384 {
		return bad("dense_dim", "%d is outside 1..16384", s.DenseDim)
	}
	if s.Dropout < 0 || s.Dropout >= 1 {
		return bad("dropout", "%g is outside [0, 1)", s.Dropout)
	}
	if s.EmbeddingDim < 1 || s.EmbeddingDim > 16384 {
		return bad("embedding_dim", "%d is outside 1..16384", s.EmbeddingDim)
	}
	if s.ColorFeatures < 0 || s.ColorFeatures > 16384 {
		return bad("color_features", "%d is outside 0..16384", s.ColorFeatures)
	}
	if len(s.CenterViews) > maxCenterViews {
		return bad("center_views", "%d views, at most %d: each is one more forward pass", len(s.CenterViews), maxCenterViews)
	}
	for i, f := range s.CenterViews {
		if !(f >= 0.25 && f < 1) {
			return bad(fmt.Sprintf("center_views[%d]", i), "%g is outside [0.25, 1): a view is the fraction of each side it keeps, less than the whole image", f)
		}
	}
	if !(s.GreyView >= 0 && s.GreyView <= 1) {
		return bad("grey_view", "%g is outside [0, 1]: the grey view's weight beside the whole image's 1", s.GreyView)
	}
	if !(s.TrimView >= 0 && s.TrimView <= maxTrimView) {
		return bad("trim_view", "%g is outside [0, %d]: the trimmed view's weight beside the whole image's 1", s.TrimView, maxTrimView)
	}
	if v := s.Variants; v != nil {
		if !v.Any() {
			return bad("variants", "none given: leave the field out for none")
		}
		for i, deg := range v.Rotations {
			if !(deg != 0 && math.Abs(deg) <= maxRotation) {
				return bad(fmt.Sprintf("variants.rotations[%d]", i), "%g: an angle in degrees, not 0, from -%d to %d, e.g. 8", deg, maxRotation, maxRotation)
			}
			if slices.Contains(v.Rotations[:i], deg) {
				return bad(fmt.Sprintf("variants.rotations[%d]", i), "%g is listed twice: each angle is a forward pass at ingest and a vector stored", deg)
			}
		}
		for i, g := range v.Crops {
			field := fmt.Sprintf("variants.crops[%d]", i)
			if g.Grid < 1 || g.Grid > maxCropGrid {
				return bad(field, "grid %d: a grid is 1..%d crops a side", g.Grid, maxCropGrid)
			}
			share := func(v float64) bool { return v >= minCropSide && v <= 1 }
			w, h := g.Width, g.Height
			switch {
			case w == 0 && h == 0:
				if !(g.Side >= minCropSide && g.Side < 1) {
					return bad(field, "side %g: each crop is %g to less than 1 of the image's side", g.Side, minCropSide)
				}
			case g.Side != 0:
				return bad(field, "side %g with width %g and height %g: give side, or width and height", g.Side, w, h)
			case !share(w) || !share(h) || w == 1 && h == 1:
				return bad(field, "width %g, height %g: each share is %g to 1 of the image's width or height, and not both 1", w, h, minCropSide)
			case w == h:
				return bad(field, "width and height are both %g: give it as side", w)
			}
		}
		for i, f := range v.Downscales {
			if !(f >= minDownscale && f < 1) {
				return bad(fmt.Sprintf("variants.downscales[%d]", i), "%g: a fraction of the image's width and height, %g to less than 1, e.g. 0.4", f, minDownscale)
			}
			if slices.Contains(v.Downscales[:i], f) {
				return bad(fmt.Sprintf("variants.downscales[%d]", i), "%g is listed twice: each is a forward pass at ingest and a vector stored", f)
			}
		}
		if n := s.PerItem(); n > maxVariants {
			return bad("variants", "%d vectors an image, at most %d: each is a forward pass at ingest and a vector stored", n, maxVariants)
		}
	}
	if !(s.AspectWeight >= 0 && s.AspectWeight <= maxAspectWeight) {
		return bad("aspect_weight", "%g is outside [0, %d]: the aspect value's weight, e.g. 0.25, or 0 for none", s.AspectWeight, maxAspectWeight)
	}
	if t := s.Thumbnail; t != nil {
		if t.Side < 2 || t.Side > maxThumbnailSide || s.InputSize%t.Side != 0 {
			return bad("thumbnail.side", "%d: a side of 2..%d pixels that divides the input size %d, e.g. 8", t.Side, maxThumbnailSide, s.InputSize)
		}
		if t.Fold && t.Side%2 != 0 {
			return bad("thumbnail.side", "%d: a folded thumbnail has an even side, e.g. 8", t.Side)
		}
		if c := t.ChromaSide; c != 0 && (c < 2 || c > maxThumbnailSide || s.InputSize%c != 0 || t.Fold && c%2 != 0) {
			return bad("thumbnail.chroma_side", "%d: 0 (no colour) or a side of 2..%d pixels that divides the input size %d, even if folded, e.g. 8", c, maxThumbnailSide, s.InputSize)
		}
		if !(t.Weight > 0 && t.Weight < 1) {
			return bad("thumbnail.weight", "%g is outside (0, 1): the thumbnail's share of the squared distance, e.g. 0.15", t.Weight)
		}
	}
	for i, b := range s.PooledBackbones {
		if err := compact(fmt.Sprintf("pooled_backbones[%d].", i), b.Width, b.Stages); err != nil {
			return err
		}
	}
	for i, b := range s.Shallow {
		field := fmt.Sprintf("shallow[%d]", i)
		if b.Filters < 1 || b.Kernel < 1 || b.Stride < 1 || b.PoolKernel < 1 || b.PoolStride < 1 {
			return bad(field, "filters, kernel, stride, pool_kernel and pool_stride must all be at least 1: %+v", b)
		}
		if b.Kernel > s.InputSize {
			return bad(field, "kernel %d is larger than the input %d", b.Kernel, s.InputSize)
		}
	}
	return nil
}
