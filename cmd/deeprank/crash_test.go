//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deeprank/deeprank/internal/fixture"
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
	modelPath := fixture.TinyModel(t, dir)
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

// TestSignalStopsIngest runs the real binary on a FIFO and a folder of
// images and sends it SIGTERM in the middle: a FIFO used to block it beyond
// any signal, holding the store's lock, and an interrupt said only "context
// canceled". Now the signal stops it, and it says what was stored, with
// exit status 130.
func TestSignalStopsIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin, modelPath := buildBinary(t, dir), fixture.TinyModel(t, dir)
	images := filepath.Join(dir, "images")
	writeImages(t, images, 0, 500)
	fifo := filepath.Join(dir, "pipe.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "ingest", "--collection", "sig", "--model", modelPath,
		"--store-dir", filepath.Join(dir, "store"), "--batch-size", "8", fifo, images)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal once the collection exists, so that ingest has begun and has
	// hundreds of images left.
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		lines := bufio.NewScanner(pr)
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), "created collection") {
				cmd.Process.Signal(syscall.SIGTERM)
			}
			fmt.Fprintln(&out, lines.Text())
		}
	}()
	err := cmd.Wait()
	pw.Close()
	<-read
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("SIGTERM did not stop ingest; killed after 2 minutes. Output:\n%s", &out)
	case err == nil || errors.As(err, &ee) && ee.ExitCode() == exitPartial:
		t.Fatalf("ingest finished before the signal: the test proved nothing. Output:\n%s", &out)
	case !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted:
		t.Fatalf("exit: %v, want %d. Output:\n%s", err, exitInterrupted, &out)
	}
	// Whether the FIFO's failure came before the signal is a race; the
	// ingest tests check that it is reported.
	for _, want := range []string{"deeprank: interrupted: ", " stored, re-run to resume"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not say %q:\n%s", want, &out)
		}
	}
}
