package trainer

import (
	"fmt"
	"github.com/deeprank/deeprank/dataset"
	"math/rand/v2"
	"path/filepath"
	"slices"
)

// source provides the triplets of each epoch and the held-out data.
type source struct {
	root string // image paths are relative to it
	// fixed holds a triplet file's training triplets; nil for classes.
	fixed []dataset.Triplet
	// train holds the training images of a class folder; nil for a file.
	train *dataset.Labelled
	val   []dataset.Triplet
	// valSet holds held-out labelled images (at most maxRetrieval) for
	// Recall@1; nil without labels.
	valSet *dataset.Labelled
	labels map[string]int
	desc   string
}

// maxRetrieval caps the held-out images ranked every epoch (the cost grows
// with its square).
const maxRetrieval = 2000

func newSource(o Options) (*source, error) {
	d := o.Data
	if d.Triplets != "" {
		file := joinRoot(d.Root, d.Triplets)
		all, err := dataset.ReadTripletFile(file, d.Root)
		if err != nil {
			return nil, err
		}
		s := &source{root: d.Root, desc: fmt.Sprintf("triplet file %s", file)}
		if d.ValTriplets != "" {
			vf := joinRoot(d.Root, d.ValTriplets)
			if s.val, err = dataset.ReadTripletFile(vf, d.Root); err != nil {
				return nil, err
			}
			s.fixed = all
			s.desc += fmt.Sprintf(" (%d triplets), held out %s (%d)", len(all), vf, len(s.val))
		} else {
			for _, t := range all {
				if dataset.HashFraction(t.Query) < d.ValFraction {
					s.val = append(s.val, t)
				} else {
					s.fixed = append(s.fixed, t)
				}
			}
			s.desc += fmt.Sprintf(": %d training triplets, %d held out by query hash", len(s.fixed), len(s.val))
		}
		if len(s.fixed) == 0 {
			return nil, fmt.Errorf("data: no training triplets left in %s after holding out %g", file, d.ValFraction)
		}
		s.val = capTriplets(s.val, d.MaxValTriplets)
		return s, nil
	}
	dir := joinRoot(d.Root, d.Classes)
	all, err := dataset.ScanClasses(dir)
	if err != nil {
		return nil, err
	}
	train, held := all.Split(d.ValFraction)
	if train.ClassesWithPairs() < 1 || len(train.Classes) < 2 {
		return nil, fmt.Errorf("data: %s has too few training images per class", dir)
	}
	s := &source{root: dir, train: train, labels: map[string]int{}}
	for i, p := range all.Paths {
		s.labels[p] = all.Labels[i]
	}
	if len(held.Paths) > 0 && held.ClassesWithPairs() > 0 {
		s.val = capTriplets(held.SampleTriplets(1, 1, rand.New(rand.NewPCG(o.Seed, 0x7a1))), d.MaxValTriplets)
		s.valSet = held
		if len(held.Paths) > maxRetrieval {
			s.valSet = &dataset.Labelled{Root: held.Root, Classes: held.Classes,
				Paths: held.Paths[:maxRetrieval], Labels: held.Labels[:maxRetrieval]}
		}
	}
	s.desc = fmt.Sprintf("class folders %s: %d classes, %d training images, %d held out (%g by path hash)",
		dir, len(all.Classes), len(train.Paths), len(held.Paths), d.ValFraction)
	return s, nil
}

// joinRoot resolves p against root unless it is absolute.
func joinRoot(root, p string) string {
	if filepath.IsAbs(p) || root == "" {
		return p
	}
	return filepath.Join(root, p)
}

// capTriplets keeps at most n triplets, spread over the list.
func capTriplets(ts []dataset.Triplet, n int) []dataset.Triplet {
	if len(ts) <= n {
		return ts
	}
	out := make([]dataset.Triplet, n)
	for i := range out {
		out[i] = ts[i*len(ts)/n]
	}
	return out
}

func (s *source) describe() string { return s.desc }

// allPaths lists every image the run reads.
func (s *source) allPaths(o Options) []string {
	paths := distinctPaths(s.fixed, s.val)
	if s.train != nil {
		paths = append(paths, s.train.Paths...)
	}
	if s.valSet != nil {
		paths = append(paths, s.valSet.Paths...)
	}
	return slices.Compact(slices.Sorted(slices.Values(paths)))
}

// epochTriplets returns the training triplets of an epoch in a shuffled
// order that depends only on the seed and the epoch.
func (s *source) epochTriplets(o Options, epoch int) []dataset.Triplet {
	rng := rand.New(rand.NewPCG(seedFor(o.Seed, epoch), 0xe90c))
	var ts []dataset.Triplet
	if s.train != nil {
		ts = s.train.SampleTriplets(o.Data.Positives, o.Data.Negatives, rng)
	} else {
		ts = slices.Clone(s.fixed)
	}
	rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	return ts
}

// batchLabels gives the class of each image of a batch in input order.
func (s *source) batchLabels(batch []dataset.Triplet) []int {
	b := len(batch)
	labels := make([]int, 3*b)
	for i, t := range batch {
		labels[i] = s.labels[t.Query]
		labels[b+i] = s.labels[t.Positive]
		labels[2*b+i] = s.labels[t.Negative]
	}
	return labels
}
