package eval

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/deeprank/deeprank/dataset"
)

// SetSpec describes one evaluation set by its files. Exactly one kind:
//   - Classes: a folder of class subfolders, ranked leave-one-out, with
//     one sampled triplet per image for the precision;
//   - Queries and Gallery: two such folders; queries are ranked against the
//     gallery, relevant where the class folder names match;
//   - Triplets: a triplet file, paths relative to Root.
type SetSpec struct {
	Name     string `yaml:"name"`
	Classes  string `yaml:"classes"`
	Queries  string `yaml:"queries"`
	Gallery  string `yaml:"gallery"`
	Triplets string `yaml:"triplets"`
	Root     string `yaml:"root"`
	// MaxImages caps a Classes set, spread over the folder; 0: all.
	MaxImages int `yaml:"max_images"`
}

// Suite is a list of sets evaluated in one run.
type Suite struct {
	Sets []SetSpec `yaml:"sets"`
}

// ErrSuite is returned (wrapped) for a malformed suite file.
var ErrSuite = errors.New("invalid evaluation suite")

// ParseSuite reads a suite in YAML; name is used in errors. Unknown keys
// are errors.
func ParseSuite(r io.Reader, name string) (*Suite, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Suite
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: %v", ErrSuite, name, err)
	}
	if len(s.Sets) == 0 {
		return nil, fmt.Errorf("%w: %s: no sets", ErrSuite, name)
	}
	for i, set := range s.Sets {
		if err := set.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: sets[%d] (%q): %v", ErrSuite, name, i, set.Name, err)
		}
	}
	return &s, nil
}

// Validate reports whether the spec names exactly one kind of set.
func (spec SetSpec) Validate() error {
	kinds := 0
	for _, on := range []bool{spec.Classes != "", spec.Queries != "" || spec.Gallery != "", spec.Triplets != ""} {
		if on {
			kinds++
		}
	}
	if kinds != 1 || (spec.Queries == "") != (spec.Gallery == "") {
		return errors.New("give classes, or queries and gallery, or triplets")
	}
	if spec.MaxImages < 0 {
		return fmt.Errorf("max_images %d is negative", spec.MaxImages)
	}
	return nil
}

// Build reads the files a spec names. seed drives triplet sampling.
func (spec SetSpec) Build(seed uint64) (Set, error) {
	switch {
	case spec.Triplets != "":
		ts, err := dataset.ReadTripletFile(spec.Triplets, spec.Root)
		if err != nil {
			return Set{}, err
		}
		return Set{Root: spec.Root, Triplets: ts}, nil
	case spec.Classes != "":
		ds, err := dataset.ScanClasses(spec.Classes)
		if err != nil {
			return Set{}, err
		}
		if spec.MaxImages > 0 && len(ds.Paths) > spec.MaxImages {
			ds = spread(ds, spec.MaxImages)
		}
		return Set{Root: ds.Root, Paths: ds.Paths, Labels: ds.Labels,
			Triplets: ds.SampleTriplets(1, 1, false, rand.New(rand.NewPCG(seed, 0)))}, nil
	default:
		g, err := dataset.ScanClasses(spec.Gallery)
		if err != nil {
			return Set{}, err
		}
		q, err := dataset.ScanClasses(spec.Queries)
		if err != nil {
			return Set{}, err
		}
		byName := map[string]int{}
		for i, c := range g.Classes {
			byName[c] = i
		}
		set := Set{Labels: g.Labels}
		for _, p := range g.Paths {
			set.Paths = append(set.Paths, filepath.Join(g.Root, p))
		}
		for i, p := range q.Paths {
			label, ok := byName[q.Classes[q.Labels[i]]]
			if !ok {
				label = -1 // relevant to nothing: Rank leaves it out
			}
			set.QueryPaths = append(set.QueryPaths, filepath.Join(q.Root, p))
			set.QueryLabels = append(set.QueryLabels, label)
		}
		return set, nil
	}
}

// spread keeps n images taken evenly over the set, so every class stays.
func spread(ds *dataset.Labelled, n int) *dataset.Labelled {
	out := &dataset.Labelled{Root: ds.Root, Classes: ds.Classes}
	for i := range n {
		j := i * len(ds.Paths) / n
		out.Paths = append(out.Paths, ds.Paths[j])
		out.Labels = append(out.Labels, ds.Labels[j])
	}
	return out
}
