package dupes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDistinct(t *testing.T) {
	a, b, c := idOf(1), idOf(2), idOf(3)
	cases := []struct {
		name, in string
		pairs    int
		err      string // in the error, "" for none
	}{
		{"empty", "", 0, ""},
		{"comments and blanks", "# x\n\n  \n" + a + " " + b + "\n", 1, ""},
		{"tab and comma", a + "\t" + b + "\n" + b + "," + c + "\n", 2, ""},
		{"either order is one pair", a + " " + b + "\n" + b + " " + a + "\n", 1, ""},
		{"one field", a + "\n", 0, "line 1: want two image IDs, found 1"},
		{"three fields", "#\n" + a + " " + b + " " + c, 0, "line 2: want two image IDs, found 3"},
		{"not an ID", a + " cat.jpg\n", 0, `line 1: invalid argument: "cat.jpg" is not an image ID`},
		{"upper case", a + " " + strings.ToUpper(b) + "\n", 0, "is not an image ID"},
		{"self", a + " " + a + "\n", 0, "cannot be distinct from itself"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := parseDistinct(strings.NewReader(c.in), "pairs.txt")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "pairs.txt") || !errors.Is(err, ErrDistinctFile) {
					t.Fatalf("error %v, want one naming pairs.txt with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Len() != c.pairs {
				t.Errorf("%d pairs, want %d", d.Len(), c.pairs)
			}
		})
	}
}

// TestDistinctSaveLoad checks a round trip through the file, and that a
// file that is not there is an empty set.
func TestDistinctSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.not-duplicates")
	d, err := LoadDistinct(path)
	if err != nil || d.Len() != 0 {
		t.Fatalf("missing file: %d pairs, %v; want an empty set", d.Len(), err)
	}
	for _, p := range [][2]int{{1, 2}, {3, 1}, {2, 1}} {
		if _, err := d.Add(idOf(p[0]), idOf(p[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadDistinct(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 2 || !back.Has(idOf(2), idOf(1)) || !back.Has(idOf(1), idOf(3)) || back.Has(idOf(2), idOf(3)) {
		t.Errorf("read back %v, want the pairs 1-2 and 1-3", back.sorted())
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# deeprank") {
		t.Errorf("file starts %q, want a header saying what it is", data[:20])
	}
}

// FuzzParseDistinct feeds outside input (a user's file of pairs): no
// panic, and whatever parses saves and parses back to the same pairs.
func FuzzParseDistinct(f *testing.F) {
	f.Add(idOf(1) + " " + idOf(2) + "\n# c\n" + idOf(3) + "," + idOf(1))
	f.Add("x y\n")
	f.Add(idOf(1) + "\t\t" + idOf(1))
	f.Fuzz(func(t *testing.T, in string) {
		d, err := parseDistinct(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "p")
		if err := d.Save(path); err != nil {
			t.Fatal(err)
		}
		back, err := LoadDistinct(path)
		if err != nil {
			t.Fatalf("saved pairs do not parse: %v", err)
		}
		if back.Len() != d.Len() {
			t.Fatalf("%d pairs read back, %d saved", back.Len(), d.Len())
		}
		for _, p := range d.sorted() {
			if !back.Has(p[0], p[1]) {
				t.Fatalf("pair %v lost", p)
			}
		}
	})
}
