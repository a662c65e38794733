package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// TestCrashSafety runs the real binary on a few hundred images, kills it
// with SIGKILL at random moments, then lets a run finish: the store must
// open cleanly and hold exactly one vector per distinct valid image.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	modelPath := tinyModel(t, dir)
	const n = 300
	images := filepath.Join(dir, "images")
	writeImages(t, images, 0, n)
	// Two copies of one image and one broken file: neither adds a vector.
	dup, _ := os.ReadFile(filepath.Join(images, "c0", "000.png"))
	os.WriteFile(filepath.Join(images, "dup.png"), dup, 0o644)
	os.WriteFile(filepath.Join(images, "broken.png"), []byte("no"), 0o644)

	storeDir := filepath.Join(dir, "store")
	runInto := func(ctx context.Context, store string) error {
		cmd := exec.CommandContext(ctx, bin, "ingest", "--collection", "crash", "--model", modelPath,
			"--store-dir", store, "--batch-size", "8", images)
		// Small logs, so that kills land in compactions too.
		cmd.Env = append(os.Environ(), "DEEPRANK_STORE_COMPACT_LOG_BYTES=4096")
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
		return cmd.Run()
	}
	run := func(ctx context.Context) error { return runInto(ctx, storeDir) }
	// Time one whole run into a scratch store, so that the kills below
	// land within a run however fast this machine is.
	began := time.Now()
	runInto(context.Background(), filepath.Join(dir, "scratch"))
	whole := time.Since(began)
	// After a kill, a reader finds the store whole: nothing damaged (a
	// write cut short at the end of the log is not damage).
	count := func() int {
		st, err := embedded.Open(storeDir, &embedded.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("store after a kill: %v", err)
		}
		defer st.Close()
		c, err := st.Open(context.Background(), "crash")
		if errors.Is(err, vectorstore.ErrNotFound) {
			return 0 // killed before the collection was made
		}
		if err != nil {
			t.Fatalf("collection after a kill: %v", err)
		}
		if r, err := st.Check(context.Background(), "crash"); err != nil || !r.OK() {
			t.Fatalf("check after a kill: %+v, %v", r, err)
		}
		got, _ := c.Count(context.Background())
		return got
	}
	rng := rand.New(rand.NewPCG(11, 12))
	midway := 0
	var counts []int
	for range 6 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration((0.1+0.8*rng.Float64())*float64(whole)))
		err := run(ctx)
		cancel()
		if ctx.Err() == nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitPartial {
				t.Fatalf("run ended with %v", err)
			}
		}
		got := count()
		counts = append(counts, got)
		if ctx.Err() != nil && got > 0 && got < n {
			midway++
		}
	}
	t.Logf("vectors stored after each killed run: %v", counts)
	if midway == 0 {
		t.Fatal("no run was killed in the middle of ingesting: the test proved nothing")
	}
	err := run(context.Background())
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitPartial {
		t.Fatalf("final run: %v, want exit %d for the broken file", err, exitPartial)
	}
	st, err := embedded.Open(storeDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.Open(context.Background(), "crash")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Count(context.Background()); got != n {
		t.Errorf("store holds %d vectors, want %d (one per distinct valid image)", got, n)
	}
}

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
