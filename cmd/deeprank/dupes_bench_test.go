package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/dupes"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// BenchmarkDupesScale runs `deeprank dupes` at the default threshold over
// 100,000 and 1,000,000 random unit vectors of the default model's 385
// dimensions (128 learned, which dupes compares) in the embedded store,
// with planted groups of near-duplicates (one image in 100 is the base of a
// group of 2 to 5), and reports the command's wall time, its CPU time and
// peak RSS (GNU time), the RSS over the size of the vectors, and the recall
// of the planted groups: the share found exactly, every member together and
// nothing else with them. It fails below a recall of 1. Each size runs the
// command once (-benchtime 1x); the store is made in a temporary folder
// first (about 2 GB at a million; DEEPRANK_BENCH_DIR names a folder to keep
// them in instead).
//
//	go test -run '^$' -bench 'DupesScale/n=100000$' -benchtime 1x -timeout 60m ./cmd/deeprank
func BenchmarkDupesScale(b *testing.B) {
	spec := defaultModelSpec(b)
	threshold, err := defaultmodel.CopyThreshold()
	if err != nil {
		b.Fatal(err)
	}
	// DEEPRANK_BENCH_DIR keeps the stores between runs (they are made
	// once, then read).
	dir := cmp.Or(benchDir, b.TempDir())
	bin := buildBinary(b, b.TempDir())
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			storeDir := filepath.Join(dir, fmt.Sprint(n))
			planted := fillPlanted(b, storeDir, spec, n, threshold)
			debug := filepath.Join(dir, "groups.json")
			var run timed
			for range b.N {
				run = runTimed(b, bin, "dupes", "--collection", "bench", "--store-dir", storeDir, "--json", "--out", debug)
			}
			data, err := os.ReadFile(debug)
			if err != nil {
				b.Fatal(err)
			}
			var res dupes.Result
			if err := json.Unmarshal(data, &res); err != nil {
				b.Fatal(err)
			}
			found, extra := plantedRecall(planted, res.Groups)
			vectors := float64(n * spec.Dim * 4)
			b.ReportMetric(run.wall.Seconds(), "wall-s")
			b.ReportMetric(run.cpu.Seconds(), "cpu-s")
			b.ReportMetric(float64(run.rss)/(1<<20), "rss-MB")
			b.ReportMetric(float64(run.rss)/vectors, "rss/vectors")
			b.ReportMetric(found, "recall")
			b.ReportMetric(float64(extra), "other-groups")
			if found != 1 {
				b.Errorf("recall of the planted groups %.4f, want 1", found)
			}
		})
	}
}

// fillPlanted writes n items into collection "bench" of a new store (once:
// a store already there is kept) and returns the planted groups, as IDs.
// One item in 100 is the base of a group; its 1 to 4 copies are the base
// moved by a random direction, to within half the threshold of it (so
// within the threshold of each other), and the rest are random unit
// vectors, about sqrt(2) apart and none within the threshold (the nearest
// of a million random pairs in 128 dimensions is some 0.9 apart).
func fillPlanted(b *testing.B, dir string, spec vectorstore.Spec, n int, threshold float32) [][]string {
	b.Helper()
	rng := rand.New(rand.NewPCG(5, uint64(n)))
	var groups [][]string
	var items []vectorstore.Item
	ctx := context.Background()
	_, statErr := os.Stat(dir)
	fresh := os.IsNotExist(statErr)
	var c vectorstore.Collection
	var s *embedded.Store
	if fresh {
		var err error
		if s, err = embedded.Open(dir, nil); err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if err := s.Create(ctx, "bench", spec); err != nil {
			b.Fatal(err)
		}
		if c, err = s.Open(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	written := 0
	flush := func() {
		if fresh && len(items) > 0 {
			if err := c.Upsert(ctx, spec.ModelVersion, items); err != nil {
				b.Fatal(err)
			}
		}
		written += len(items)
		items = items[:0]
	}
	for written+len(items) < n {
		id := storetest.ID(written + len(items))
		base := storetest.UnitVector(rng, spec.Dim)
		items = append(items, vectorstore.Item{ID: id, Vector: base, Metadata: vectorstore.Metadata{Path: fmt.Sprintf("/photos/%07d.jpg", written+len(items))}})
		if rng.IntN(100) == 0 {
			g := []string{id}
			for range 1 + rng.IntN(4) {
				if written+len(items) >= n {
					break
				}
				v := storetest.NearCopy(rng, base, threshold/2)
				cid := storetest.ID(written + len(items))
				items = append(items, vectorstore.Item{ID: cid, Vector: v, Metadata: vectorstore.Metadata{Path: fmt.Sprintf("/photos/%07d.jpg", written+len(items))}})
				g = append(g, cid)
			}
			if len(g) > 1 {
				groups = append(groups, g)
			}
		}
		if len(items) >= 1000 {
			flush()
		}
	}
	flush()
	if fresh {
		// A store at rest: its log merged into segments, as `deeprank
		// compact` leaves it (an open log is held in memory, up to
		// store.compact_log_bytes of it).
		if err := s.Compact(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	return groups
}

// plantedRecall is the share of planted groups found exactly, and the
// number of groups found that hold no planted group.
func plantedRecall(planted [][]string, found []dupes.Group) (float64, int) {
	at := map[string]int{}
	for gi, g := range found {
		for _, m := range g.Members {
			at[m.ID] = gi
		}
	}
	exact := 0
	matched := map[int]bool{}
	for _, p := range planted {
		gi, ok := at[p[0]]
		same := ok && len(found[gi].Members) == len(p)
		for _, id := range p[1:] {
			if g, ok := at[id]; !ok || g != gi {
				same = false
			}
		}
		if same {
			exact++
			matched[gi] = true
		}
	}
	return float64(exact) / float64(max(len(planted), 1)), len(found) - len(matched)
}

// timeCommand runs bin with args and returns its wall time, its peak RSS
// and its stdout (see runTimed).
func timeCommand(b *testing.B, bin string, args ...string) (time.Duration, int64, []byte) {
	b.Helper()
	r := runTimed(b, bin, args...)
	return r.wall, r.rss, r.stdout
}

// timed is what runTimed measured of a command.
type timed struct {
	wall time.Duration
	// cpu is the command's user + system time, rss its peak RSS: as GNU
	// time reports them (a child started from this process directly
	// would count this process's own peak: Linux carries it across the
	// exec), or 0 without /usr/bin/time.
	cpu    time.Duration
	rss    int64
	stdout []byte
}

// runTimed runs bin with args and measures it.
func runTimed(b *testing.B, bin string, args ...string) timed {
	b.Helper()
	args = append([]string{bin}, args...)
	gnuTime := "/usr/bin/time"
	if _, err := os.Stat(gnuTime); err == nil {
		args = append([]string{gnuTime, "-f", "cpu-s=%U+%S maxrss-kb=%M"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	r := timed{wall: time.Since(start), stdout: stdout.Bytes()}
	if _, after, ok := strings.Cut(stderr.String(), "maxrss-kb="); ok {
		kb, _ := strconv.ParseInt(strings.TrimSpace(after), 10, 64)
		r.rss = kb * 1024
	}
	if _, after, ok := strings.Cut(stderr.String(), "cpu-s="); ok {
		user, sys, _ := strings.Cut(strings.Fields(after)[0], "+")
		u, _ := strconv.ParseFloat(user, 64)
		s, _ := strconv.ParseFloat(sys, 64)
		r.cpu = time.Duration((u + s) * float64(time.Second))
	}
	return r
}
