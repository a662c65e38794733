package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/model"
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

// tinyModel saves a small random model into dir, for tests that embed many
// images fast.
func tinyModel(t *testing.T, dir string) string {
	t.Helper()
	s := model.DefaultSpec()
	s.Width, s.DenseDim, s.EmbeddingDim = 8, 32, 16
	m, err := model.New(s, model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(3)
	path := filepath.Join(dir, "m.drk")
	if _, err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
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
		var buf bytes.Buffer
		png.Encode(&buf, img)
		p := filepath.Join(dir, fmt.Sprintf("c%d", i%5), fmt.Sprintf("%03d.png", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
