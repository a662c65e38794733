package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/vectorstore"
)

// TestReadersBesideWriter runs 8 processes querying the embedded store in
// a loop while one ingest and then one reindex write to it. Every query
// must succeed and return only images of a committed state (among them
// the query image itself at distance 0, since it was stored before); and
// queries must have run during both writes, or the test proved nothing.
func TestReadersBesideWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	modelPath := fixture.TinyModel(t, dir)
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	writeImages(t, first, 0, 60)
	writeImages(t, second, 60, 260)
	storeDir := filepath.Join(dir, "store")
	deeprank := func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--model", modelPath, "--store-dir", storeDir)...)
		// Small logs: the writers compact while the readers read.
		cmd.Env = append(os.Environ(), "DEEPRANK_STORE_COMPACT_LOG_BYTES=8192")
		return cmd.Output()
	}
	ctx := context.Background()
	if out, err := deeprank(ctx, "ingest", "--collection", "c", first); err != nil {
		t.Fatalf("first ingest: %v\n%s", err, out)
	}
	query := filepath.Join(first, "c0", "000.png")
	abs, _ := filepath.Abs(query)

	// Each query records when it ran; the writers record when they did.
	type span struct{ start, end time.Time }
	var (
		mu      sync.Mutex
		queries []span
		fails   []string
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s := span{start: time.Now()}
				out, err := deeprank(ctx, "query", "--collection", "c", "--image", query, "--top-k", "20", "--json")
				s.end = time.Now()
				var hits []vectorstore.Hit
				if err == nil {
					err = json.Unmarshal(out, &hits)
				}
				problem := ""
				switch {
				case err != nil:
					problem = fmt.Sprintf("query failed: %v", err)
					if ee, ok := err.(*exec.ExitError); ok {
						problem += ": " + string(ee.Stderr)
					}
				case len(hits) != 20 || !slices.ContainsFunc(hits, func(h vectorstore.Hit) bool {
					return h.Metadata.Path == abs && h.Distance < 1e-4
				}):
					// The tiny random model gives a few images the same
					// vector: the query image is at distance 0, not
					// always first among them.
					problem = fmt.Sprintf("query gave %+v, want the image itself at distance 0 among 20", hits)
				}
				for _, h := range hits {
					if _, err := os.Stat(h.Metadata.Path); err != nil {
						problem = fmt.Sprintf("a hit names a file that is not an ingested image: %s", h.Metadata.Path)
					}
				}
				mu.Lock()
				queries = append(queries, s)
				if problem != "" {
					fails = append(fails, problem)
				}
				mu.Unlock()
			}
		}()
	}
	write := func(args ...string) span {
		s := span{start: time.Now()}
		if out, err := deeprank(ctx, args...); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
		s.end = time.Now()
		return s
	}
	time.Sleep(200 * time.Millisecond) // queries under way before the writes
	ingest := write("ingest", "--collection", "c", second)
	reindex := write("reindex", "--collection", "c")
	stop.Store(true)
	wg.Wait()

	for _, f := range fails[:min(len(fails), 5)] {
		t.Error(f)
	}
	if len(fails) > 0 {
		t.Fatalf("%d of %d queries failed", len(fails), len(queries))
	}
	// A query overlapping a write opened the store before the write's
	// last commit, or read it after its first.
	during := func(w span) int {
		n := 0
		for _, q := range queries {
			if q.start.Before(w.end) && q.end.After(w.start) {
				n++
			}
		}
		return n
	}
	t.Logf("%d queries; %d overlapped the ingest (%v), %d the reindex (%v)",
		len(queries), during(ingest), ingest.end.Sub(ingest.start).Round(time.Millisecond),
		during(reindex), reindex.end.Sub(reindex.start).Round(time.Millisecond))
	if during(ingest) == 0 || during(reindex) == 0 {
		t.Fatal("no query overlapped a write: the test proved nothing")
	}
}
