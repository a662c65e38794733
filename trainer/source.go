package trainer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// source provides the triplets of each epoch and the held-out data.
type source struct {
	root string // image paths are relative to it
	// fixed holds a triplet file's training triplets; nil for classes.
	fixed []dataset.Triplet
	// parts hold the training images of class folders; nil for a file.
	parts   []trainPart
	classes []string // class names over all parts, by label
	val     []dataset.Triplet
	// valSet holds held-out labelled images (at most maxRetrieval) for
	// Recall@1; nil without labels.
	valSet *dataset.Labelled
	labels map[string]int
	// instances is set when a part makes every image its own class: the
	// held-out Recall@1 is then copy detection (augmented query against
	// the originals).
	instances bool
	// augments holds the images of mix entries with an augment of their
	// own (training and held-out), with it.
	augments map[string]*imageio.Augment
	desc     string
}

// trainPart is one class folder's training images and sampler settings.
type trainPart struct {
	set                  *dataset.Labelled
	positives, negatives int
	// groupPositives replaces positives for images that share their
	// class (data.mix groups); 0 for none.
	groupPositives int
}

// sample draws the part's triplets of an epoch.
func (p trainPart) sample(selfPositives bool, rng *rand.Rand) []dataset.Triplet {
	if p.groupPositives == 0 {
		return p.set.SampleTriplets(p.positives, p.negatives, selfPositives, rng)
	}
	size := make([]int, len(p.set.Classes))
	for _, l := range p.set.Labels {
		size[l]++
	}
	return p.set.SampleTripletsEach(func(i int) int {
		if size[p.set.Labels[i]] > 1 {
			return p.groupPositives
		}
		return p.positives
	}, p.negatives, selfPositives, rng)
}

// maxRetrieval caps the held-out images ranked every epoch (the cost grows
// with its square).
const maxRetrieval = 2000

func newSource(o trainconfig.Options) (*source, error) {
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
				if dataset.HeldOut("", t.Query, d.ValFraction) {
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
	parts := d.Mix
	if len(parts) == 0 {
		parts = []trainconfig.ClassSource{{Classes: d.Classes, Positives: d.Positives, Negatives: d.Negatives}}
	}
	s := &source{root: d.Root, labels: map[string]int{}}
	held := &dataset.Labelled{Root: d.Root}
	var descs []string
	for _, part := range parts {
		dir := joinRoot(d.Root, part.Classes)
		scan := dataset.ScanClasses
		if part.Instances {
			scan = dataset.ScanInstances
			s.instances = true
		}
		all, err := scan(dir)
		if err != nil {
			return nil, err
		}
		split := func() (*dataset.Labelled, *dataset.Labelled) {
			return all.Split(d.ValFraction, d.SplitBy == "class", dataset.ValidationSalt)
		}
		if part.Groups != "" {
			groups, err := dataset.ReadGroups(joinRoot(d.Root, part.Groups))
			if err != nil {
				return nil, err
			}
			if all, err = all.Group(groups); err != nil {
				return nil, fmt.Errorf("data: %s: %w", part.Groups, err)
			}
			split = func() (*dataset.Labelled, *dataset.Labelled) {
				return all.SplitGrouped(d.ValFraction, dataset.ValidationSalt)
			}
		}
		// Paths and labels relative to the common root and unique across
		// the parts.
		absRoot, err1 := filepath.Abs(rootOrDot(d.Root))
		absDir, err2 := filepath.Abs(dir)
		rel, err := filepath.Rel(absRoot, absDir)
		if err = errors.Join(err1, err2, err); err != nil {
			return nil, fmt.Errorf("data: %s: %w", dir, err)
		}
		train, h := split()
		offset := len(s.classes)
		if part.Augment != nil && s.augments == nil {
			s.augments = map[string]*imageio.Augment{}
		}
		for _, set := range []*dataset.Labelled{train, h} {
			set.Root = d.Root
			for i := range set.Paths {
				set.Paths[i] = filepath.ToSlash(filepath.Join(rel, set.Paths[i]))
				set.Labels[i] += offset
				s.labels[set.Paths[i]] = set.Labels[i]
				if part.Augment != nil {
					s.augments[set.Paths[i]] = part.Augment
				}
			}
		}
		for _, c := range all.Classes {
			s.classes = append(s.classes, filepath.Join(rel, c))
		}
		train.Classes = s.classes
		if len(train.SampleTriplets(1, 1, d.SelfPositives, rand.New(rand.NewPCG(1, 1)))) == 0 {
			return nil, fmt.Errorf("data: %s has too few training images per class (set data.self_positives for one image per class)", dir)
		}
		s.parts = append(s.parts, trainPart{train, part.Positives, part.Negatives, part.GroupPositives})
		held.Paths = append(held.Paths, h.Paths...)
		held.Labels = append(held.Labels, h.Labels...)
		kind := "classes"
		switch {
		case part.Groups != "":
			kind = fmt.Sprintf("classes (instances, and groups of %s)", part.Groups)
		case part.Instances:
			kind = "instances"
		}
		descs = append(descs, fmt.Sprintf("%s: %d %s, %d training images, %d held out", dir, len(all.Classes), kind, len(train.Paths), len(h.Paths)))
	}
	held.Classes = s.classes
	if len(held.Paths) > 0 {
		s.val = capTriplets(held.SampleTriplets(1, 1, d.SelfPositives, rand.New(rand.NewPCG(o.Seed, 0x7a1))), d.MaxValTriplets)
		s.valSet = held
		if n := len(held.Paths); n > maxRetrieval {
			// Spread over the parts, not the first part's images only.
			s.valSet = &dataset.Labelled{Root: held.Root, Classes: held.Classes}
			for i := range maxRetrieval {
				s.valSet.Paths = append(s.valSet.Paths, held.Paths[i*n/maxRetrieval])
				s.valSet.Labels = append(s.valSet.Labels, held.Labels[i*n/maxRetrieval])
			}
		}
	}
	s.desc = fmt.Sprintf("class folders (%g held out by %s hash) %s", d.ValFraction, d.SplitBy, strings.Join(descs, "; "))
	return s, nil
}

func rootOrDot(root string) string {
	if root == "" {
		return "."
	}
	return root
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

// augmentFor returns the augmentation of the image at path: its mix
// entry's own, or def.
func (s *source) augmentFor(path string, def *imageio.Augment) *imageio.Augment {
	if a, ok := s.augments[path]; ok {
		return a
	}
	return def
}

// allPaths lists every image the run reads.
func (s *source) allPaths(o trainconfig.Options) []string {
	paths := distinctPaths(s.fixed, s.val)
	for _, p := range s.parts {
		paths = append(paths, p.set.Paths...)
	}
	if s.valSet != nil {
		paths = append(paths, s.valSet.Paths...)
	}
	return slices.Compact(slices.Sorted(slices.Values(paths)))
}

// epochTriplets returns the training triplets of an epoch in a shuffled
// order that depends only on the seed and the epoch.
func (s *source) epochTriplets(o trainconfig.Options, epoch int) []dataset.Triplet {
	rng := rand.New(rand.NewPCG(seedFor(o.Seed, epoch), 0xe90c))
	ts := slices.Clone(s.fixed)
	for _, p := range s.parts {
		ts = append(ts, p.sample(o.Data.SelfPositives, rng)...)
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
