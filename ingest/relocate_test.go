package ingest

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
)

func TestRelocate(t *testing.T) {
	write := func(t *testing.T, p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	picture := []byte("\x89PNG the picture's bytes")
	cases := []struct {
		name string
		// files are written under the corpus folder (a/x.png is stored,
		// a/y.png stays), or outside it with "../"; x.png is deleted.
		files map[string][]byte
		want  string // the copy found for x.png, "" for none
	}{
		{"a copy beside it", map[string][]byte{"a/copy.png": picture}, "a/copy.png"},
		{"a copy in a subfolder", map[string][]byte{"a/sub/copy.png": picture}, "a/sub/copy.png"},
		{"a copy outside the collection's folders", map[string][]byte{"../elsewhere/copy.png": picture}, ""},
		{"same size, other bytes", map[string][]byte{"a/copy.png": []byte("\x89PNG the pictures bytes!")}, ""},
		{"not an image name", map[string][]byte{"a/copy.txt": picture}, ""},
		{"no copy", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "corpus")
			x, y := filepath.Join(root, "a", "x.png"), filepath.Join(root, "a", "y.png")
			write(t, x, picture)
			write(t, y, []byte("another picture"))
			stored := map[string]vectorstore.Metadata{
				mustID(t, x): {Path: x, Size: int64(len(picture))},
				mustID(t, y): {Path: y, Size: 15},
			}
			os.Remove(x)
			for name, b := range tc.files {
				write(t, filepath.Join(root, name), b)
			}
			got, err := relocate(context.Background(), stored)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			if tc.want != "" {
				want[mustID(t, filepath.Join(root, tc.want))] = filepath.Join(root, tc.want)
			}
			if !maps.Equal(got, want) {
				t.Errorf("relocate = %v, want %v", got, want)
			}
		})
	}
}

func TestOutermost(t *testing.T) {
	cases := []struct {
		name    string
		folders []string
		want    []string
	}{
		{"nested", []string{"/a", "/a/b", "/a/b/c"}, []string{"/a"}},
		{"siblings", []string{"/a/b", "/a/c"}, []string{"/a/b", "/a/c"}},
		{"a name that only starts alike", []string{"/a", "/a-b", "/a/b"}, []string{"/a", "/a-b"}},
		{"root", []string{"/", "/a"}, []string{"/"}},
		{"relative", []string{"a", "a/b", "c"}, []string{"a", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := map[string]bool{}
			for _, f := range tc.folders {
				set[f] = true
			}
			got := outermost(set)
			if !slices.Equal(got, tc.want) {
				t.Errorf("outermost(%v) = %v, want %v", tc.folders, got, tc.want)
			}
		})
	}
}
