package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTriplets(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		want     []Triplet
		wantLine int // line named by the error; 0 when none
	}{
		{"reference format", "a.jpg,b.jpg,c.jpg\nd.jpg,e.jpg,f.jpg\n", []Triplet{{"a.jpg", "b.jpg", "c.jpg"}, {"d.jpg", "e.jpg", "f.jpg"}}, 0},
		{"spaces, blanks, comments, CRLF", "# header\n\n a/x.png , b/y.png ,c/z.png\r\n", []Triplet{{"a/x.png", "b/y.png", "c/z.png"}}, 0},
		{"no final newline", "a,b,c", []Triplet{{"a", "b", "c"}}, 0},
		{"two fields", "a,b,c\na,b\n", nil, 2},
		{"four fields", "a,b,c,d\n", nil, 1},
		{"empty positive", "\n\na, ,c\n", nil, 3},
		{"empty", "", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTriplets(strings.NewReader(tc.in), "t.txt")
			if tc.wantLine > 0 {
				var le *LineError
				if !errors.As(err, &le) || le.Line != tc.wantLine || !errors.Is(err, ErrTripletSyntax) {
					t.Fatalf("err = %v, want a syntax error on line %d", err, tc.wantLine)
				}
				if !strings.HasPrefix(err.Error(), "t.txt:") {
					t.Errorf("error %q does not start with the file name", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("triplet %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestReadTripletFileMissingImage(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.png", "b.png", "c.png"} {
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(file, []byte("a.png,b.png,c.png\n# note\nb.png,a.png,gone.png\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadTripletFile(file, dir)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "negative image gone.png") {
		t.Fatalf("err = %v, want line 3 naming the missing negative", err)
	}
}

func TestWriteParseRoundTrip(t *testing.T) {
	ts := []Triplet{{"a b/1.png", "c/2.png", "d/3.png"}}
	var buf bytes.Buffer
	if err := WriteTriplets(&buf, ts); err != nil {
		t.Fatal(err)
	}
	got, err := ParseTriplets(&buf, "x")
	if err != nil || len(got) != 1 || got[0] != ts[0] {
		t.Fatalf("round trip gave %v, %v", got, err)
	}
	if err := WriteTriplets(&buf, []Triplet{{"a,b", "c", "d"}}); err == nil {
		t.Error("a comma in a path was written")
	}
}

// mustClasses makes root/<class>/<i>.png files (empty: only names matter).
func mustClasses(t *testing.T, counts map[string]int) string {
	t.Helper()
	root := t.TempDir()
	for class, n := range counts {
		if err := os.MkdirAll(filepath.Join(root, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(root, class, strings.Repeat("x", i+1)+".png"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestSampleTriplets(t *testing.T) {
	root := mustClasses(t, map[string]int{"cat": 4, "dog": 3, "lonely": 1})
	ds, err := ScanClasses(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Classes) != 3 || len(ds.Paths) != 8 {
		t.Fatalf("scanned %d classes, %d images", len(ds.Classes), len(ds.Paths))
	}
	label := map[string]int{}
	for i, p := range ds.Paths {
		label[p] = ds.Labels[i]
	}
	ts := ds.SampleTriplets(2, 3, false, rand.New(rand.NewPCG(1, 1)))
	// Every image of a class with a pair: 7 images x 2 positives x 3 negatives.
	if len(ts) != 7*2*3 {
		t.Fatalf("%d triplets, want %d", len(ts), 7*2*3)
	}
	for _, tr := range ts {
		if tr.Query == tr.Positive || label[tr.Query] != label[tr.Positive] || label[tr.Query] == label[tr.Negative] {
			t.Errorf("bad triplet %v", tr)
		}
	}
}

func TestScanClassesLinks(t *testing.T) {
	tests := []struct {
		name    string
		target  string // link target, relative to the class folder
		want    int    // images scanned, when no error is wanted
		wantErr string
	}{
		{"link to an image", "x.png", 3, ""},
		{"link to a folder", ".", 2, ""},
		{"broken link", "gone.png", 0, "broken link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := mustClasses(t, map[string]int{"cat": 1, "dog": 1})
			if err := os.Symlink(tt.target, filepath.Join(root, "cat", "linked.png")); err != nil {
				t.Fatal(err)
			}
			ds, err := ScanClasses(root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "linked.png") {
					t.Fatalf("err = %v, want one naming linked.png and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Paths) != tt.want {
				t.Errorf("scanned %v, want %d images", ds.Paths, tt.want)
			}
		})
	}
}

func TestScanInstances(t *testing.T) {
	tests := []struct {
		name    string
		counts  map[string]int
		link    string // a link's target beside the images, if not empty
		want    int
		wantErr string
	}{
		{"nested folders", map[string]int{"cat": 2, "dog": 1}, "", 3, ""},
		{"link to an image", map[string]int{"cat": 2}, "cat/x.png", 3, ""},
		{"broken link", map[string]int{"cat": 2}, "gone.png", 0, "broken link"},
		{"one image", map[string]int{"cat": 1}, "", 0, "has 1 images; triplets need at least 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := mustClasses(t, tt.counts)
			if tt.link != "" {
				if err := os.Symlink(tt.link, filepath.Join(root, "linked.png")); err != nil {
					t.Fatal(err)
				}
			}
			ds, err := ScanInstances(root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Paths) != tt.want || len(ds.Classes) != tt.want {
				t.Fatalf("scanned %v in %d classes, want %d of each", ds.Paths, len(ds.Classes), tt.want)
			}
			for i, p := range ds.Paths { // each image its own class, named by its path
				if ds.Classes[ds.Labels[i]] != p {
					t.Errorf("%s is labelled %q", p, ds.Classes[ds.Labels[i]])
				}
			}
		})
	}
}

func TestScanClassesNeedsTwo(t *testing.T) {
	if _, err := ScanClasses(mustClasses(t, map[string]int{"only": 3})); err == nil {
		t.Error("a single class was accepted")
	}
	if _, err := ScanClasses(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: err = %v", err)
	}
}

func TestHashFractionSpreads(t *testing.T) {
	// Near-identical keys, like emoji codes, must land all over [0, 1).
	low := 0
	for i := range 1000 {
		if HashFraction(fmt.Sprintf("1f%03x", i)) < 0.2 {
			low++
		}
	}
	if low < 150 || low > 250 {
		t.Errorf("%d of 1000 near-identical keys below 0.2, want about 200", low)
	}
}

func TestSplitIsStable(t *testing.T) {
	ds := &Labelled{Classes: []string{"a", "b"}}
	for i := range 1000 {
		ds.Paths = append(ds.Paths, strings.Repeat("p", i%7)+string(rune('a'+i%26))+strings.Repeat("q", i/26))
		ds.Labels = append(ds.Labels, i%2)
	}
	train, held := ds.Split(0.2, false, "")
	if len(train.Paths)+len(held.Paths) != 1000 {
		t.Fatal("split lost images")
	}
	if f := float64(len(held.Paths)) / 1000; f < 0.15 || f > 0.25 {
		t.Errorf("held out %.2f, want about 0.2", f)
	}
	_, again := ds.Split(0.2, false, "")
	if len(again.Paths) != len(held.Paths) || again.Paths[0] != held.Paths[0] {
		t.Error("split is not stable")
	}
}

func FuzzParseTriplets(f *testing.F) {
	f.Add("a.jpg,b.jpg,c.jpg\n")
	f.Add("# c\n\n a , b , c \r\nx,y\n")
	f.Add(",,\n")
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := ParseTriplets(strings.NewReader(in), "f")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, tr := range ts {
			for _, p := range []string{tr.Query, tr.Positive, tr.Negative} {
				if p == "" || strings.ContainsAny(p, ",\n") || p != strings.TrimSpace(p) {
					t.Fatalf("bad path %q from %q", p, in)
				}
			}
		}
	})
}

func TestSampleTripletsWithoutNegatives(t *testing.T) {
	// Two classes named, but images in only one: no triplet, and no hang.
	ds := &Labelled{Classes: []string{"a", "b"}, Paths: []string{"a/1", "a/2"}, Labels: []int{0, 0}}
	if ts := ds.SampleTriplets(1, 1, true, rand.New(rand.NewPCG(1, 1))); len(ts) != 0 {
		t.Errorf("got %d triplets without any negative", len(ts))
	}
}
