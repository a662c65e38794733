package trainer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/model"
)

// frozen holds the weights that train.freeze keeps as they are: a copy of
// each frozen span, written back after every optimiser step. Writing back
// is exact whatever the optimiser does to a span (Adam's moments, weight
// decay), where zeroing the gradients would not stop weight decay.
type frozen struct {
	spans []frozenSpan
}

// frozenSpan is weights[lo:hi] of one parameter, and its value.
type frozenSpan struct {
	weights []float32
	lo      int
	kept    []float32
}

// freeze finds the weights of m, whose architecture is a, that the branches
// named in branches own: every parameter of their layers, and their rows
// of the head's first dense layer. It returns what it froze, as a log
// line, or an error naming a branch a lacks.
func freeze(m *model.Model, a model.Arch, branches []string) (*frozen, string, error) {
	if err := checkBranches(a, "freeze", branches); err != nil {
		return nil, "", err
	}
	f := &frozen{}
	keep := func(w []float32, lo, hi int) {
		f.spans = append(f.spans, frozenSpan{weights: w, lo: lo, kept: slices.Clone(w[lo:hi])})
	}
	head := a.Head[0] // the dense layer over the branches, concatenated
	out := head.Out.C
	headW := m.Weights[head.Name+".w"]
	var tensors []string
	rows := 0
	for _, r := range headRows(a) {
		if !slices.Contains(branches, r.name) {
			continue
		}
		ps, _ := branchParams(a, "the model", r.name)
		for _, p := range ps {
			w := m.Weights[p.Name]
			keep(w, 0, len(w))
			tensors = append(tensors, p.Name)
		}
		keep(headW, r.at*out, (r.at+r.n)*out)
		rows += r.n
	}
	return f, fmt.Sprintf("frozen: %s (%d tensors: %s; and their %d rows of %s.w)",
		strings.Join(branches, " "), len(tensors), strings.Join(tensors, " "), rows, head.Name), nil
}

// restore writes the frozen weights back.
func (f *frozen) restore() {
	for _, s := range f.spans {
		copy(s.weights[s.lo:], s.kept)
	}
}
