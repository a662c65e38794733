package trainer

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// graphForward runs the network's inference graph in gorgonia. The trainer
// itself evaluates with model.Net; tests use this to prove the two engines
// agree and to measure the speed-up.
type graphForward struct {
	ng    *netGraph
	vm    G.VM
	batch int
	x     *tensor.Dense
	views model.Views // the model's, as model.Net applies them
	// weights is the graph's input of each view's weight for each image
	// (sumViews).
	weights []float32
}

func newGraphForward(m *model.Model, batch int) (*graphForward, error) {
	a, err := m.Spec.Arch()
	if err != nil {
		return nil, err
	}
	views := model.NewViews(m)
	ng, err := buildNet(a, batch*(1+views.Len()), tensor.Float32, sharedParams(m), false, fastOps)
	if err != nil {
		return nil, err
	}
	var weights []float32
	if views.Len() > 0 {
		if weights, err = ng.sumViews(batch, views.Len()); err != nil {
			return nil, err
		}
	}
	in := a.Input
	x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(batch*(1+views.Len()), in.C, in.H, in.W))
	if err := G.Let(ng.input, x); err != nil {
		return nil, err
	}
	return &graphForward{ng: ng, vm: G.NewTapeMachine(ng.g), batch: batch, x: x, views: views, weights: weights}, nil
}

// Forward embeds exactly batch images laid out as for model.Net.Forward,
// with the model's views as Forward has them.
func (f *graphForward) Forward(x []float32) ([]float32, error) {
	f.views.Expand(f.x.Data().([]float32), f.weights, x, f.batch)
	defer f.vm.Reset()
	if err := f.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("gorgonia forward: %w", err)
	}
	out := f.ng.embed.Value().Data().([]float32)
	return append([]float32(nil), out...), nil
}

func (f *graphForward) Close() { f.vm.Close() }
