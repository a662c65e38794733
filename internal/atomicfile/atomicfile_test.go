package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	cases := []struct {
		name   string
		before []byte // nil: no file before
		data   []byte
	}{
		{"new file", nil, []byte("one")},
		{"replaces", []byte("old content, longer"), []byte("new")},
		{"empty", []byte("x"), []byte{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.before != nil {
				os.WriteFile(path, tc.before, 0o600)
			}
			if err := WriteFile(path, tc.data); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(tc.data) {
				t.Fatalf("read back %q, %v; want %q", got, err, tc.data)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", st.Mode().Perm())
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("%d files in the folder, want 1 (a temporary file left behind?)", len(ents))
			}
		})
	}
}

func TestWriteFileFailsLeavingTheOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("old"), 0o644)
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("old file now holds %q", got)
	}
}
