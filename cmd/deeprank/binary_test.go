package main

import (
	"fmt"
	"image"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/internal/fixture"
)

// buildBinary builds the deeprank command into dir.
func buildBinary(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "deeprank")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// writeImages writes distinct 320x240 PNGs number lo to hi-1 under dir, in
// five class folders.
func writeImages(t *testing.T, dir string, lo, hi int) {
	t.Helper()
	for i := lo; i < hi; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		for p := range img.Pix {
			img.Pix[p] = uint8(i*31 + p*(1+i%7))
		}
		fixture.WritePNG(t, filepath.Join(dir, fmt.Sprintf("c%d", i%5), fmt.Sprintf("%03d.png", i)), img)
	}
}
