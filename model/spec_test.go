package model

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Spec)
		field string // "" when valid
	}{
		{"default", func(*Spec) {}, ""},
		{"color branch", func(s *Spec) { s.ColorFeatures = 32 }, ""},
		{"negative color features", func(s *Spec) { s.ColorFeatures = -1 }, "color_features"},
		{"centre views", func(s *Spec) { s.CenterViews = []float64{0.85, 0.25} }, ""},
		{"centre view of the whole image", func(s *Spec) { s.CenterViews = []float64{1} }, "center_views[0]"},
		{"centre view too small", func(s *Spec) { s.CenterViews = []float64{0.8, 0.2} }, "center_views[1]"},
		{"too many centre views", func(s *Spec) { s.CenterViews = make([]float64, 9) }, "center_views"},
		{"grey view", func(s *Spec) { s.GreyView = 0.5 }, ""},
		{"grey view above the whole image's weight", func(s *Spec) { s.GreyView = 1.5 }, "grey_view"},
		{"negative grey view", func(s *Spec) { s.GreyView = -0.5 }, "grey_view"},
		{"trimmed view", func(s *Spec) { s.TrimView = 1.5 }, ""},
		{"trimmed view above twice the whole image", func(s *Spec) { s.TrimView = 2.5 }, "trim_view"},
		{"negative trimmed view", func(s *Spec) { s.TrimView = -1 }, "trim_view"},
		{"tiny input", func(s *Spec) { s.InputSize = 4 }, "input_size"},
		{"unknown backbone", func(s *Spec) { s.Backbone = "resnet" }, "backbone"},
		{"too many stages", func(s *Spec) { s.Stages = 7 }, "stages"},
		{"dropout of 1", func(s *Spec) { s.Dropout = 1 }, "dropout"},
		{"zero embedding", func(s *Spec) { s.EmbeddingDim = 0 }, "embedding_dim"},
		{"shallow kernel too big", func(s *Spec) { s.Shallow[1].Kernel = 65 }, "shallow[1]"},
		{"pooled backbone", func(s *Spec) { s.PooledBackbones = []PooledBackbone{{Width: 8, Stages: 3}} }, ""},
		{"pooled backbone stages", func(s *Spec) { s.PooledBackbones = []PooledBackbone{{Width: 8, Stages: 3}, {Width: 8, Stages: 7}} }, "pooled_backbones[1].stages"},
		{"pooled backbone width", func(s *Spec) { s.PooledBackbones = []PooledBackbone{{Width: 0, Stages: 3}} }, "pooled_backbones[0].width"},
		{"variants", func(s *Spec) {
			s.Variants = &Variants{Grey: true, Crops: []CropGrid{{Grid: 3, Side: 0.7}, {Grid: 1, Side: 0.5}}}
		}, ""},
		{"no variants given", func(s *Spec) { s.Variants = &Variants{} }, "variants"},
		{"rotations", func(s *Spec) { s.Variants = &Variants{Rotations: []float64{-8, 8, 45}} }, ""},
		{"rotation by 0", func(s *Spec) { s.Variants = &Variants{Rotations: []float64{8, 0}} }, "variants.rotations[1]"},
		{"rotation too far", func(s *Spec) { s.Variants = &Variants{Rotations: []float64{-46}} }, "variants.rotations[0]"},
		{"rotation not a number", func(s *Spec) { s.Variants = &Variants{Rotations: []float64{math.NaN()}} }, "variants.rotations[0]"},
		{"rotation twice", func(s *Spec) { s.Variants = &Variants{Rotations: []float64{-8, 8, -8}} }, "variants.rotations[2]"},
		{"crop of the whole image", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 2, Side: 0.8}, {Grid: 2, Side: 1}}} }, "variants.crops[1]"},
		{"crop too small", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 2, Side: 0.4}}} }, "variants.crops[0]"},
		{"crop grid of 0", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 0, Side: 0.7}}} }, "variants.crops[0]"},
		{"strips", func(s *Spec) {
			s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Width: 0.5, Height: 1}, {Grid: 3, Width: 1, Height: 0.5}}}
		}, ""},
		{"strips of the whole image", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Width: 1, Height: 1}}} }, "variants.crops[0]"},
		{"strips too narrow", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Width: 0.4, Height: 1}}} }, "variants.crops[0]"},
		{"strips wider than the image", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Width: 1.2, Height: 0.5}}} }, "variants.crops[0]"},
		{"strips with a side too", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Side: 0.7, Width: 0.5, Height: 1}}} }, "variants.crops[0]"},
		{"strips of no height", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Width: 0.5}}} }, "variants.crops[0]"},
		{"square crops by width and height", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 3, Width: 0.8, Height: 0.8}}} }, "variants.crops[0]"},
		{"aspect value", func(s *Spec) { s.AspectWeight = 0.25 }, ""},
		{"aspect value at its largest", func(s *Spec) { s.AspectWeight = 2 }, ""},
		{"aspect value above 2", func(s *Spec) { s.AspectWeight = 2.5 }, "aspect_weight"},
		{"negative aspect value", func(s *Spec) { s.AspectWeight = -0.25 }, "aspect_weight"},
		{"aspect value not a number", func(s *Spec) { s.AspectWeight = math.NaN() }, "aspect_weight"},
		{"thumbnail", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8, Weight: 0.15} }, ""},
		{"thumbnail of one pixel", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 1, Weight: 0.15} }, "thumbnail.side"},
		{"thumbnail side not dividing the input", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 12, Weight: 0.15} }, "thumbnail.side"},
		{"thumbnail too large", func(s *Spec) { s.InputSize, s.Thumbnail = 128, &Thumbnail{Side: 64, Weight: 0.15} }, "thumbnail.side"},
		{"thumbnail of no weight", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8} }, "thumbnail.weight"},
		{"thumbnail alone", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8, Weight: 1} }, "thumbnail.weight"},
		{"folded thumbnail", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8, Weight: 0.1, Fold: true} }, ""},
		{"thumbnail in colour", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 16, Weight: 0.3, ChromaSide: 8} }, ""},
		{"thumbnail colour of one pixel", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8, Weight: 0.3, ChromaSide: 1} }, "thumbnail.chroma_side"},
		{"thumbnail colour not dividing the input", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8, Weight: 0.3, ChromaSide: 12} }, "thumbnail.chroma_side"},
		{"thumbnail colour too large", func(s *Spec) { s.InputSize, s.Thumbnail = 128, &Thumbnail{Side: 8, Weight: 0.3, ChromaSide: 64} }, "thumbnail.chroma_side"},
		{"thumbnail colour negative", func(s *Spec) { s.Thumbnail = &Thumbnail{Side: 8, Weight: 0.3, ChromaSide: -8} }, "thumbnail.chroma_side"},
		{"folded thumbnail of an odd colour side", func(s *Spec) {
			s.InputSize, s.Thumbnail = 126, &Thumbnail{Side: 6, Weight: 0.1, Fold: true, ChromaSide: 7}
		}, "thumbnail.chroma_side"},
		{"folded thumbnail of an odd side", func(s *Spec) { s.InputSize, s.Thumbnail = 63, &Thumbnail{Side: 7, Weight: 0.1, Fold: true} }, "thumbnail.side"},
		{"downscaled variants", func(s *Spec) { s.Variants = &Variants{Downscales: []float64{0.4, 0.25}} }, ""},
		{"downscaled variant of the whole size", func(s *Spec) { s.Variants = &Variants{Downscales: []float64{1}} }, "variants.downscales[0]"},
		{"downscaled variant too small", func(s *Spec) { s.Variants = &Variants{Grey: true, Downscales: []float64{0.4, 0.05}} }, "variants.downscales[1]"},
		{"downscaled variant twice", func(s *Spec) { s.Variants = &Variants{Downscales: []float64{0.4, 0.4}} }, "variants.downscales[1]"},
		{"too many variants", func(s *Spec) { s.Variants = &Variants{Crops: []CropGrid{{Grid: 5, Side: 0.7}, {Grid: 3, Side: 0.6}}} }, "variants"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSpec()
			tc.edit(&s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec naming %s", err, tc.field)
			}
		})
	}
}

// TestColorBranch checks the colour branch's layout: a 2x2 convolution of
// stride 2 with ReLU over the full image, averaged, normalised, and fed to
// the head.
func TestColorBranch(t *testing.T) {
	s := DefaultSpec()
	s.ColorFeatures = 24
	plain, a, b := addedBranch(t, s)
	var kinds []string
	for _, l := range b.Layers {
		kinds = append(kinds, l.Kind.String())
	}
	if got := strings.Join(kinds, ","); b.Name != "color" || got != "conv,gap,l2norm" {
		t.Fatalf("branch %s = %s, want color = conv,gap,l2norm", b.Name, got)
	}
	conv := b.Layers[0]
	if conv.Kernel != 2 || conv.Stride != 2 || !conv.ReLU || conv.In.H != s.InputSize || conv.Out.C != 24 {
		t.Errorf("conv = %+v, want 2x2 stride 2 with ReLU over %dx%d into 24 channels", conv, s.InputSize, s.InputSize)
	}
	if got, want := a.Head[0].In.C, plain.Head[0].In.C+24; got != want {
		t.Errorf("head input %d, want %d", got, want)
	}
}

// TestPooledBackbones checks a further backbone's layout: the compact
// backbone's stages, averaged over the image and normalised without dense
// layers, after the other branches, fed to the head.
func TestPooledBackbones(t *testing.T) {
	s := DefaultSpec()
	s.PooledBackbones = []PooledBackbone{{Width: 8, Stages: 3}}
	plain, a, b := addedBranch(t, s)
	var layers []string
	for _, l := range b.Layers {
		layers = append(layers, l.Kind.String()+" "+l.Name)
	}
	want := "conv pooled1.stage1_conv,maxpool ,conv pooled1.stage2_conv,maxpool ,conv pooled1.stage3_conv,maxpool ,gap ,l2norm "
	if got := strings.Join(layers, ","); b.Name != "pooled1" || got != want {
		t.Fatalf("branch %s = %s, want pooled1 = %s", b.Name, got, want)
	}
	if out := b.Layers[len(b.Layers)-1].Out; out != (Shape{C: 32, H: 1, W: 1}) {
		t.Errorf("branch output %+v, want 32 channels (8 doubled twice)", out)
	}
	if got, want := a.Head[0].In.C, plain.Head[0].In.C+32; got != want {
		t.Errorf("head input %d, want %d", got, want)
	}
}

// addedBranch returns the architectures of DefaultSpec and of s, which
// adds one branch to it, and that branch, the last.
func addedBranch(t *testing.T, s Spec) (plain, a Arch, added Branch) {
	t.Helper()
	plain, err := DefaultSpec().Arch()
	if err != nil {
		t.Fatal(err)
	}
	if a, err = s.Arch(); err != nil {
		t.Fatal(err)
	}
	if len(a.Branches) != len(plain.Branches)+1 {
		t.Fatalf("%d branches, want %d", len(a.Branches), len(plain.Branches)+1)
	}
	return plain, a, a.Branches[len(a.Branches)-1]
}

// TestCropGridJSON: a grid of a side is written as it was before grids
// had a width and a height, so that a model file's spec, and with it its
// version, stays as it was.
func TestCropGridJSON(t *testing.T) {
	for _, tc := range []struct {
		grid CropGrid
		json string
	}{
		{CropGrid{Grid: 3, Side: 0.8}, `{"grid":3,"side":0.8}`},
		{CropGrid{Grid: 3, Width: 0.5, Height: 1}, `{"grid":3,"width":0.5,"height":1}`},
	} {
		b, err := json.Marshal(tc.grid)
		if err != nil || string(b) != tc.json {
			t.Errorf("%+v: %s, %v; want %s", tc.grid, b, err, tc.json)
		}
		var back CropGrid
		if err := json.Unmarshal([]byte(tc.json), &back); err != nil || back != tc.grid {
			t.Errorf("%s read as %+v, %v", tc.json, back, err)
		}
	}
}

func TestPerItem(t *testing.T) {
	cases := []struct {
		variants *Variants
		want     int
		square   int // SquareSide at input 64
	}{
		{nil, 1, 64},
		{&Variants{Grey: true}, 2, 64},
		{&Variants{Crops: []CropGrid{{Grid: 2, Side: 0.8}}}, 5, 128},
		{&Variants{Grey: true, Crops: []CropGrid{{Grid: 3, Side: 0.7}, {Grid: 1, Side: 0.5}}}, 12, 128},
		{&Variants{Mirror: true}, 2, 64},
		{&Variants{Mirror: true, Rotations: []float64{-8, 8}, Crops: []CropGrid{{Grid: 2, Side: 0.8}}}, 8, 128},
		{&Variants{Downscales: []float64{0.4}}, 2, 64},
		{&Variants{Grey: true, Crops: []CropGrid{{Grid: 3, Side: 0.8}}, Downscales: []float64{0.25, 0.5}}, 13, 128},
		{&Variants{Crops: []CropGrid{{Grid: 3, Width: 0.5, Height: 1}, {Grid: 2, Width: 1, Height: 0.5}, {Grid: 2, Width: 0.6, Height: 0.9}}}, 10, 128},
	}
	for _, tc := range cases {
		s := DefaultSpec()
		s.Variants = tc.variants
		if got := s.PerItem(); got != tc.want {
			t.Errorf("%+v: PerItem %d, want %d", tc.variants, got, tc.want)
		}
		if got := s.SquareSide(); got != tc.square {
			t.Errorf("%+v: SquareSide %d, want %d", tc.variants, got, tc.square)
		}
	}
}

func TestThumbnailLayout(t *testing.T) {
	for _, tc := range []struct {
		t    Thumbnail
		want string
	}{
		{Thumbnail{Side: 16, Weight: 0.3}, "16x16"},
		{Thumbnail{Side: 8, Weight: 0.1, Fold: true}, "folded 8x8"},
		{Thumbnail{Side: 16, Weight: 0.3, ChromaSide: 8}, "16x16 and 8x8 colour"},
	} {
		if got := tc.t.Layout(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.t, got, tc.want)
		}
	}
}
