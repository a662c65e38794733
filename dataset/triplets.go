// Package dataset reads and writes the training data of deeprank: triplet
// files in the reference's format and folders of class subfolders, with a
// stable hash split and the reference's triplet sampler.
package dataset

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/deeprank/deeprank/imageio"
)

// Triplet names three images by path relative to a dataset root: Positive
// is more similar to Query than Negative is.
type Triplet struct {
	Query, Positive, Negative string
}

var roles = [3]string{"query", "positive", "negative"}

// ErrTripletSyntax is returned (wrapped in a *LineError) for a malformed line
// of a triplet file.
var ErrTripletSyntax = errors.New("malformed triplet")

// LineError locates a problem in a text file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ParseTriplets reads the reference's triplet format: one
// "query,positive,negative" line per triplet. Blank lines and lines starting
// with '#' are skipped. name is used in errors.
func ParseTriplets(r io.Reader, name string) ([]Triplet, error) {
	ts, _, err := parseTriplets(r, name)
	return ts, err
}

// parseTriplets is ParseTriplets that also returns each triplet's line.
func parseTriplets(r io.Reader, name string) ([]Triplet, []int, error) {
	var ts []Triplet
	var lines []int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, ",")
		if len(f) != 3 {
			return nil, nil, &LineError{name, line, fmt.Errorf("%w: want 3 comma-separated paths (query,positive,negative), got %d fields", ErrTripletSyntax, len(f))}
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
			if f[i] == "" {
				return nil, nil, &LineError{name, line, fmt.Errorf("%w: %s path is empty", ErrTripletSyntax, roles[i])}
			}
		}
		ts = append(ts, Triplet{f[0], f[1], f[2]})
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &LineError{name, line + 1, err}
	}
	return ts, lines, nil
}

// ReadTripletFile parses the triplet file at path and checks that every image
// it names exists under root; the error names the file, line and image.
func ReadTripletFile(path, root string) ([]Triplet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read triplets: %w", err)
	}
	defer f.Close()
	ts, lines, err := parseTriplets(f, path)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("read triplets: %s holds no triplet", path)
	}
	checked := map[string]bool{}
	for i, t := range ts {
		for role, p := range [3]string{t.Query, t.Positive, t.Negative} {
			if checked[p] {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				return nil, &LineError{path, lines[i], fmt.Errorf("%s image %s: %w", roles[role], p, err)}
			}
			checked[p] = true
		}
	}
	return ts, nil
}

// WriteTriplets writes triplets in the reference format.
func WriteTriplets(w io.Writer, ts []Triplet) error {
	bw := bufio.NewWriter(w)
	for _, t := range ts {
		for _, p := range []string{t.Query, t.Positive, t.Negative} {
			if strings.ContainsAny(p, ",\n") {
				return fmt.Errorf("write triplets: path %q holds a comma or newline, which the format cannot carry", p)
			}
		}
		fmt.Fprintf(bw, "%s,%s,%s\n", t.Query, t.Positive, t.Negative)
	}
	return bw.Flush()
}

// Labelled is a set of images with class labels, paths relative to Root.
type Labelled struct {
	Root    string
	Paths   []string
	Labels  []int    // index into Classes, per path
	Classes []string // class folder names, sorted
}

// ScanClasses reads a folder of class subfolders: every image file under
// root/CLASS/ (at any depth), or symbolic link to one, is labelled CLASS.
// A broken link is an error, not a silent gap in the data.
func ScanClasses(root string) (*Labelled, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scan classes: %w", err)
	}
	ds := &Labelled{Root: root}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		label := len(ds.Classes)
		n := 0
		err := walkImages(root, filepath.Join(root, e.Name()), func(rel string) {
			ds.Paths = append(ds.Paths, rel)
			ds.Labels = append(ds.Labels, label)
			n++
		})
		if err != nil {
			return nil, fmt.Errorf("scan classes: %w", err)
		}
		if n > 0 {
			ds.Classes = append(ds.Classes, e.Name())
		}
	}
	if len(ds.Classes) < 2 {
		return nil, fmt.Errorf("scan classes: %s has %d class folders with images; triplets need at least 2", root, len(ds.Classes))
	}
	return ds, nil
}

// ScanInstances reads a folder of images in which every image is its own
// class (self-supervised instance discrimination: an image's positive is
// another augmented view of itself): every image file under root, at any
// depth, or symbolic link to one, labelled by its path. A broken link is an
// error.
func ScanInstances(root string) (*Labelled, error) {
	ds := &Labelled{Root: root}
	err := walkImages(root, root, func(rel string) {
		ds.Labels = append(ds.Labels, len(ds.Paths))
		ds.Paths = append(ds.Paths, rel)
		ds.Classes = append(ds.Classes, rel)
	})
	if err != nil {
		return nil, fmt.Errorf("scan instances: %w", err)
	}
	if len(ds.Paths) < 2 {
		return nil, fmt.Errorf("scan instances: %s has %d images; triplets need at least 2", root, len(ds.Paths))
	}
	return ds, nil
}

// walkImages calls add with the path, relative to root and with forward
// slashes, of every image file under dir (at any depth, in lexical order),
// or symbolic link to one. A broken link is an error, not a silent gap in
// the data.
func walkImages(root, dir string, add func(rel string)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !imageio.IsImageName(d.Name()) {
			return nil
		}
		if !d.Type().IsRegular() {
			info, err := os.Stat(p) // follows a link
			if err != nil {
				return fmt.Errorf("%s: a broken link (%w); mend or remove it", p, err)
			}
			if !info.Mode().IsRegular() { // a link to a folder, a device
				return nil
			}
		}
		rel, _ := filepath.Rel(root, p)
		add(filepath.ToSlash(rel))
		return nil
	})
}

// Split divides the set in two by a hash: about frac of the images go to
// the second set. The hash is of salt + each image's path, or with byClass
// of salt + its class name, so that whole classes (instances) are held out.
// The split depends only on the names and the salt; a different salt gives
// a split independent of one made before (a validation set carved from data
// that was itself split by hash).
func (ds *Labelled) Split(frac float64, byClass bool, salt string) (train, held *Labelled) {
	return ds.splitWhere(func(i int) bool {
		key := ds.Paths[i]
		if byClass {
			key = ds.Classes[ds.Labels[i]]
		}
		return HeldOut(salt, key, frac)
	})
}

// splitWhere divides the set in two: the images heldOut reports go to the
// second.
func (ds *Labelled) splitWhere(heldOut func(i int) bool) (train, held *Labelled) {
	train = &Labelled{Root: ds.Root, Classes: ds.Classes}
	held = &Labelled{Root: ds.Root, Classes: ds.Classes}
	for i, p := range ds.Paths {
		dst := train
		if heldOut(i) {
			dst = held
		}
		dst.Paths = append(dst.Paths, p)
		dst.Labels = append(dst.Labels, ds.Labels[i])
	}
	return train, held
}

// ValidationSalt is the salt of the trainer's validation split (Split with
// byClass and data.val_fraction): tools that rebuild the set the trainer
// held out use it with HeldOut.
const ValidationSalt = "validation:"

// HeldOut reports whether key falls in the held-out frac of a split salted
// with salt: the rule of Split, for tools that rebuild a split's sets.
func HeldOut(salt, key string, frac float64) bool {
	return HashFraction(salt+key) < frac
}

// HashFraction maps a string to [0, 1) by SHA-256: a stable split key
// that spreads even near-identical names (1f600, 1f601) evenly.
func HashFraction(s string) float64 {
	sum := sha256.Sum256([]byte(s))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// ByClass groups path indices by label.
func (ds *Labelled) ByClass() [][]int {
	groups := make([][]int, len(ds.Classes))
	for i, l := range ds.Labels {
		groups[l] = append(groups[l], i)
	}
	return groups
}

// SampleTriplets follows the reference sampler: for every image, pos
// positives from its own class and, for each positive, neg negatives from
// other classes, all drawn at random from rng. An image alone in its class
// gets no triplet, unless selfPositive is set: then it is its own positive
// (training augments the two copies differently, which teaches invariance to
// the augmentations, as for copy detection).
func (ds *Labelled) SampleTriplets(pos, neg int, selfPositive bool, rng *rand.Rand) []Triplet {
	return ds.SampleTripletsEach(func(int) int { return pos }, neg, selfPositive, rng)
}

// SampleTripletsEach is SampleTriplets with pos(i) positives for image i:
// some images weighted up against the others of the set, which stay their
// negatives.
func (ds *Labelled) SampleTripletsEach(pos func(i int) int, neg int, selfPositive bool, rng *rand.Rand) []Triplet {
	groups := ds.ByClass()
	var ts []Triplet
	nonEmpty := 0
	for _, g := range groups {
		if len(g) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 2 {
		return nil // no negative anywhere
	}
	for i, p := range ds.Paths {
		same := groups[ds.Labels[i]]
		if len(same) < 2 && !selfPositive {
			continue
		}
		for range pos(i) {
			j := i
			for len(same) > 1 && j == i {
				j = same[rng.IntN(len(same))]
			}
			for range neg {
				k := rng.IntN(len(ds.Paths))
				for ds.Labels[k] == ds.Labels[i] {
					k = rng.IntN(len(ds.Paths))
				}
				ts = append(ts, Triplet{p, ds.Paths[j], ds.Paths[k]})
			}
		}
	}
	return ts
}
