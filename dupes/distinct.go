package dupes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/internal/atomicfile"
	"github.com/deeprank/deeprank/vectorstore"
)

// ErrDistinctFile is returned (wrapped, with the file and line) for a file
// of distinct pairs that does not parse.
var ErrDistinctFile = errors.New("bad file of distinct pairs")

// distinctHeader opens every file Save writes, saying what it is.
const distinctHeader = "# deeprank: image pairs marked as not duplicates (deeprank dupes --not-duplicate).\n" +
	"# Two image IDs (SHA-256 of the file) a line; lines starting with # are comments.\n"

// Distinct is a set of image pairs that a user marked as not duplicates:
// Find never joins two images through such a pair. IDs are content hashes,
// so a pair holds across a re-scan, a re-ingest or a move of the files. The
// zero value is an empty set, ready to use; it is not safe for concurrent
// writes.
type Distinct struct {
	pairs map[[2]string]bool
}

func orderPair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Add records that a and b are distinct, and reports whether the pair is
// new. Both must be image IDs (64 lowercase hex digits) and differ.
func (d *Distinct) Add(a, b string) (bool, error) {
	for _, id := range []string{a, b} {
		if !vectorstore.ValidID(id) {
			return false, fmt.Errorf("%w: %q is not an image ID (64 lowercase hex digits, the SHA-256 that `deeprank dupes --json` prints)", vectorstore.ErrInvalid, id)
		}
	}
	if a == b {
		return false, fmt.Errorf("%w: an image cannot be distinct from itself (%s)", vectorstore.ErrInvalid, a)
	}
	p := orderPair(a, b)
	if d.pairs[p] {
		return false, nil
	}
	if d.pairs == nil {
		d.pairs = map[[2]string]bool{}
	}
	d.pairs[p] = true
	return true, nil
}

// Has reports whether a and b were marked distinct, in either order. A nil
// set has no pairs.
func (d *Distinct) Has(a, b string) bool { return d != nil && d.pairs[orderPair(a, b)] }

// Len is the number of pairs.
func (d *Distinct) Len() int {
	if d == nil {
		return 0
	}
	return len(d.pairs)
}

// IDs lists the IDs that appear in some pair, sorted.
func (d *Distinct) IDs() []string {
	var out []string
	for _, p := range d.sorted() {
		out = append(out, p[0], p[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Merge adds the pairs of o and returns how many were new.
func (d *Distinct) Merge(o *Distinct) int {
	n := 0
	for _, p := range o.sorted() {
		if added, _ := d.Add(p[0], p[1]); added {
			n++
		}
	}
	return n
}

// parseDistinct reads pairs, two IDs separated by spaces, tabs or a comma
// on each line; blank lines and lines starting with # are skipped. name is
// used in errors, which give the line.
func parseDistinct(r io.Reader, name string) (*Distinct, error) {
	d := &Distinct{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: %s line %d: want two image IDs, found %d fields", ErrDistinctFile, name, n, len(f))
		}
		if _, err := d.Add(f[0], f[1]); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrDistinctFile, name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return d, nil
}

// LoadDistinct reads the pairs saved at path; a file that does not exist
// is an empty set.
func LoadDistinct(path string) (*Distinct, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Distinct{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read distinct pairs: %w", err)
	}
	defer f.Close()
	return parseDistinct(f, path)
}

// Save writes the pairs to path, sorted, durably and all at once
// (internal/atomicfile): a crash leaves the old file or the new.
func (d *Distinct) Save(path string) error {
	var buf bytes.Buffer
	buf.WriteString(distinctHeader)
	for _, p := range d.sorted() {
		fmt.Fprintf(&buf, "%s %s\n", p[0], p[1])
	}
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("save distinct pairs: %w", err)
	}
	return nil
}

func (d *Distinct) sorted() [][2]string {
	var out [][2]string
	if d != nil {
		for p := range d.pairs {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	return out
}
