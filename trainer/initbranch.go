package trainer

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// initBranches starts branches of m, whose architecture is a, from
// branches of other model files (Options.InitBranches), in order, and logs
// what each took.
func initBranches(m *model.Model, a model.Arch, ibs []trainconfig.InitBranch, log io.Writer) error {
	for i, ib := range ibs {
		desc, err := initBranch(m, a, ib)
		if err != nil {
			return fmt.Errorf("config: init_branches[%d]: %w", i, err)
		}
		fmt.Fprintf(log, "init_branches[%d]: %s\n", i, desc)
	}
	return nil
}

// initBranch copies into m's branch ib.Branch the weights of branch ib.From
// of the model file ib.Model, layer by layer, and describes what it took.
// It fails when either branch does not exist, when a layer both have
// differs in shape, or when they have no layer in common.
func initBranch(m *model.Model, a model.Arch, ib trainconfig.InitBranch) (string, error) {
	from := cmp.Or(ib.From, ib.Branch)
	to, err := branchParams(a, "the model", ib.Branch)
	if err != nil {
		return "", err
	}
	file, err := model.Load(ib.Model)
	if err != nil {
		return "", err
	}
	fileArch, err := file.Spec.Arch()
	if err != nil {
		return "", fmt.Errorf("%s: %w", ib.Model, err)
	}
	src, err := branchParams(fileArch, ib.Model, from)
	if err != nil {
		return "", err
	}
	// A parameter's name is its branch's, a dot, its layer's and its own.
	byLayer := map[string]model.Param{}
	for _, p := range src {
		byLayer[strings.TrimPrefix(p.Name, from+".")] = p
	}
	var took, kept []string
	for _, p := range to {
		layer := strings.TrimPrefix(p.Name, ib.Branch+".")
		s, ok := byLayer[layer]
		if !ok {
			kept = append(kept, p.Name)
			continue
		}
		delete(byLayer, layer)
		if !slices.Equal(s.Shape, p.Shape) {
			return "", fmt.Errorf("%s of %s has shape %v, %s of the model %v: the two branches must be built alike (width, stages)",
				s.Name, ib.Model, s.Shape, p.Name, p.Shape)
		}
		copy(m.Weights[p.Name], file.Weights[s.Name])
		took = append(took, p.Name)
	}
	if len(took) == 0 {
		return "", fmt.Errorf("%s of %s and %s of the model have no layer in common", from, ib.Model, ib.Branch)
	}
	var left []string
	for _, p := range src {
		if _, ok := byLayer[strings.TrimPrefix(p.Name, from+".")]; ok {
			left = append(left, p.Name)
		}
	}
	desc := fmt.Sprintf("%s from %s of %s: %d tensors taken (%s)", ib.Branch, from, ib.Model, len(took), strings.Join(took, " "))
	if len(left) > 0 {
		desc += fmt.Sprintf("; left out of the file: %s", strings.Join(left, " "))
	}
	if len(kept) > 0 {
		desc += fmt.Sprintf("; not in the file, so kept as they were: %s", strings.Join(kept, " "))
	}
	return desc, nil
}

// branchParams lists the parameters of a's branch named name, or fails
// naming the branches that a, the architecture of whose, has.
func branchParams(a model.Arch, whose, name string) ([]model.Param, error) {
	var names []string
	for i, b := range a.Branches {
		if b.Name == name {
			return (model.Arch{Branches: a.Branches[i : i+1]}).Params(), nil
		}
		names = append(names, b.Name)
	}
	return nil, fmt.Errorf("%s has no branch %q; its branches are %s", whose, name, strings.Join(names, ", "))
}

// checkBranches fails, naming the config key and a's branches, when names
// holds a branch that a lacks.
func checkBranches(a model.Arch, key string, names []string) error {
	for _, name := range names {
		if _, err := branchParams(a, "the model", name); err != nil {
			return fmt.Errorf("config: %s: %w", key, err)
		}
	}
	return nil
}
