package layout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.png")
	if err := os.WriteFile(src, []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "a", "b", "dst.png")
	// Twice: an existing dst is replaced.
	for range 2 {
		if err := Link(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	if data, err := os.ReadFile(dst); err != nil || string(data) != "image" {
		t.Fatalf("dst holds %q (%v), want the source's bytes", data, err)
	}
	if err := Link(filepath.Join(dir, "missing.png"), dst); err == nil {
		t.Error("linking a missing file succeeded")
	}
}
