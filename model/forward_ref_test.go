package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// forwardRef is testdata/forward_ref.json, made by forward_ref.py with JAX:
// layer outputs and a small network's embedding computed independently of
// this package, for hand-set weights and inputs.
type forwardRef struct {
	Layers []struct {
		Name        string    `json:"name"`
		Kind        string    `json:"kind"`
		In          [3]int    `json:"in"`
		OutChannels int       `json:"out_channels"`
		Kernel      int       `json:"kernel"`
		Stride      int       `json:"stride"`
		ReLU        bool      `json:"relu"`
		X           []float32 `json:"x"`
		W           []float32 `json:"w"`
		B           []float32 `json:"b"`
		Out         [3]int    `json:"out"`
		Want        []float64 `json:"want"`
	} `json:"layers"`
	Net struct {
		X       []float32            `json:"x"`
		Weights map[string][]float32 `json:"weights"`
		Want    []float64            `json:"want"`
	} `json:"net"`
}

func loadForwardRef(t *testing.T) forwardRef {
	t.Helper()
	b, err := os.ReadFile("testdata/forward_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref forwardRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("testdata/forward_ref.json: %v", err)
	}
	return ref
}

// closeTo reports the first value of got that is not want's to within
// float32 rounding.
func closeTo(got []float32, want []float64) error { return closeWithin(got, want, 1e-5) }

// closeWithin is closeTo with a tolerance of tol times the larger of 1 and
// the value's magnitude.
func closeWithin(got []float32, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > tol*max(1, math.Abs(w)) {
			return fmt.Errorf("value %d is %g, want %g", i, got[i], w)
		}
	}
	return nil
}

// TestForwardReference checks every layer kind, and each way 'same'
// padding splits (none, even, more after, H and W apart), against values
// computed by JAX, whose 'SAME' padding is Keras's: the layer is resolved
// by the same code as a Spec's (builder, samePadding) and run by the fast
// forward pass. A swapped padding or a wrong shape fails here even when
// both of deeprank's engines agree.
func TestForwardReference(t *testing.T) {
	ref := loadForwardRef(t)
	for _, tc := range ref.Layers {
		t.Run(tc.Name, func(t *testing.T) {
			b := &builder{cur: Shape{tc.In[0], tc.In[1], tc.In[2]}}
			switch tc.Kind {
			case "conv":
				b.conv("l", tc.OutChannels, tc.Kernel, tc.Stride, tc.ReLU)
			case "maxpool":
				b.pool(tc.Kernel, tc.Stride)
			case "gap":
				b.add(Layer{Kind: GlobalAvgPool})
			case "dense":
				b.dense("l", tc.OutChannels, tc.ReLU)
			case "l2norm":
				b.add(Layer{Kind: L2Normalize})
			default:
				t.Fatalf("unknown kind %q in the fixture", tc.Kind)
			}
			l := b.layers[0]
			if want := (Shape{tc.Out[0], tc.Out[1], tc.Out[2]}); l.Out != want {
				t.Fatalf("output shape %+v (padding %+v), want %+v", l.Out, l.Pad, want)
			}
			n := newNet(Arch{}, map[string][]float32{"l.w": tc.W, "l.b": tc.B}, 1)
			st := compile(b.layers)[0] // a stride-1 convolution by implicitConv
			var got []float32
			if st.perImage() {
				got = n.image([]step{st}, tc.X, packed(n, []step{st}), new(scratch))
			} else {
				got = n.denseSteps([]step{st}, tc.X, 1, new(scratch))
			}
			if err := closeTo(got, tc.Want); err != nil {
				t.Errorf("%v (padding %+v)", err, l.Pad)
			}
		})
	}
}

// TestForwardReferenceNet runs a whole small network of every branch kind
// (compact backbone, a shallow branch with uneven padding, colour
// features) on two images and compares the embedding before its final L2
// normalisation with JAX's, then the normalised one.
func TestForwardReferenceNet(t *testing.T) {
	ref := loadForwardRef(t).Net
	spec := Spec{InputSize: 8, Backbone: BackboneCompact, Width: 2, Stages: 1, DenseDim: 3,
		Shallow:       []ShallowBranch{{Filters: 2, Kernel: 3, Stride: 3, PoolKernel: 3, PoolStride: 2}},
		ColorFeatures: 2, EmbeddingDim: 4}
	a, err := spec.Arch()
	if err != nil {
		t.Fatal(err)
	}
	params := a.Params()
	if len(params) != len(ref.Weights) {
		t.Errorf("the spec has %d parameters, the fixture %d", len(params), len(ref.Weights))
	}
	for _, p := range params {
		if got := len(ref.Weights[p.Name]); got != shapeSize(p.Shape) {
			t.Fatalf("parameter %s: the fixture has %d values, the spec wants %v", p.Name, got, p.Shape)
		}
	}
	last := a.Head[len(a.Head)-1]
	if last.Kind != L2Normalize {
		t.Fatalf("the head ends with %v, not l2norm", last.Kind)
	}
	raw := a
	raw.Head = a.Head[:len(a.Head)-1]
	n := newNet(raw, ref.Weights, 2)
	if err := closeTo(n.Forward(ref.X, 2), ref.Want); err != nil {
		t.Errorf("before the final L2 normalisation: %v", err)
	}

	m := &Model{Spec: spec, Normalization: UnitNormalization(), Weights: ref.Weights}
	full, err := NewNet(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(ref.Want))
	for r := 0; r < len(want); r += 4 {
		var ss float64
		for _, v := range ref.Want[r : r+4] {
			ss += v * v
		}
		for i, v := range ref.Want[r : r+4] {
			want[r+i] = v / math.Sqrt(ss)
		}
	}
	if err := closeTo(full.Forward(ref.X, 2), want); err != nil {
		t.Errorf("normalised: %v", err)
	}
}
