package embedded

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// settle waits until no merge runs in c.
func settle(c vectorstore.Collection) *state {
	cc := c.(*collection)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for cc.merging != nil {
		cc.mergeDone.Wait()
	}
	return cc.st
}

// TestBackgroundMerges: random upserts, replacements and deletes, with
// searches beside them, in logs of 2 KB, so that flushes and background
// merges interleave with the writes in every order; the collection holds
// exactly what a map says, before and after reopening and a full
// compaction, and the merges keep the segments in tiers.
func TestBackgroundMerges(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, c := mustStoreWith(t, dir, &Options{CompactLogBytes: 2 << 10})
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[string][]float32{}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // a reader in the same process, beside the merges
		defer readers.Done()
		q := storetest.UnitVector(rand.New(rand.NewPCG(5, 6)), 8)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Search(ctx, "v1", q, 5, nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	logs := map[string]bool{}
	for range 400 {
		var batch []vectorstore.Item
		for range 1 + rng.IntN(8) {
			id := storetest.ID(rng.IntN(1500))
			it := vectorstore.Item{ID: id, Vector: storetest.UnitVector(rng, 8), Metadata: vectorstore.Metadata{Path: "/p/" + id[:6]}}
			batch = append(batch, it)
		}
		if err := c.Upsert(ctx, "v1", batch); err != nil {
			t.Fatal(err)
		}
		for _, it := range batch {
			want[it.ID] = it.Vector
		}
		if rng.IntN(4) == 0 {
			id := storetest.ID(rng.IntN(1500))
			if err := c.Delete(ctx, []string{id}); err != nil {
				t.Fatal(err)
			}
			delete(want, id)
		}
		cc := c.(*collection)
		cc.mu.RLock()
		logs[cc.st.man.Log] = true
		cc.mu.RUnlock()
	}
	close(stop)
	readers.Wait()
	st := settle(c)
	tiers := map[int]int{}
	for _, v := range st.segs {
		tiers[tier(v.live)]++
	}
	for tr, n := range tiers {
		if n >= mergeFanout {
			t.Errorf("%d segments of tier %d left unmerged", n, tr)
		}
	}
	if len(st.segs) >= len(logs)/2 {
		t.Errorf("%d segments after %d flushes: the merges did not run", len(st.segs), len(logs))
	}
	checkHolds(t, c, want)
	s.Close()
	s, c = mustStoreWith(t, dir, nil)
	defer s.Close()
	checkHolds(t, c, want)
	if err := s.Compact(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	checkHolds(t, c, want)
}

// TestCloseDuringMerge: closing (or fully compacting) a collection while
// a merge runs stops the merge, which publishes nothing; every item is
// there after reopening, and the next writer removes the merge's file.
func TestCloseDuringMerge(t *testing.T) {
	ctx := context.Background()
	for _, end := range []string{"close", "compact"} {
		t.Run(end, func(t *testing.T) {
			caught := false
			for attempt := 0; attempt < 10 && !caught; attempt++ {
				dir := t.TempDir()
				s, c := mustStoreWith(t, dir, &Options{CompactLogBytes: 64 << 10})
				want := map[string][]float32{}
				items := storetest.Items(4000, 8, 1)
				// Four flushes of about 1,000 items: the fourth starts a merge.
				for lo := 0; lo < len(items); lo += 100 {
					if err := c.Upsert(ctx, "v1", items[lo:lo+100]); err != nil {
						t.Fatal(err)
					}
					cc := c.(*collection)
					cc.mu.RLock()
					caught = cc.merging != nil
					cc.mu.RUnlock()
					if caught {
						items = items[:lo+100]
						break
					}
				}
				for _, it := range items {
					want[it.ID] = it.Vector
				}
				var err error
				if end == "close" {
					err = s.Close()
				} else {
					err = s.Compact(ctx, "c")
					s.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
				s, c = mustStoreWith(t, dir, nil)
				checkHolds(t, c, want)
				named := settle(c).man.files()
				ents, _ := os.ReadDir(filepath.Join(dir, "c"))
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), "seg-") && !slices.Contains(named, e.Name()) {
						t.Errorf("stray segment %s after reopening", e.Name())
					}
				}
				s.Close()
			}
			if !caught {
				t.Fatal("no merge was running at the end in 10 attempts: the test proved nothing")
			}
		})
	}
}
