package embedded

import (
	"context"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// flushLog moves the log of c into a new segment, as a writer does when the
// log grows past its threshold.
func flushLog(t *testing.T, c vectorstore.Collection) {
	t.Helper()
	cc := c.(*collection)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if err := cc.compactLocked(false); err != nil {
		t.Fatal(err)
	}
}

// lent is what Each lent: the IDs (hex) and vectors in order, and the
// start of each block.
type lent struct {
	ids    []string
	vecs   [][]float32
	starts []int
}

func readLent(t *testing.T, blocks vectorstore.Blocks, from int) lent {
	t.Helper()
	var out lent
	next := from
	err := blocks.Each(context.Background(), from, func(b vectorstore.Block) error {
		if b.Start != next {
			t.Fatalf("from %d: a block starts at %d, want %d", from, b.Start, next)
		}
		if b.Len() == 0 || len(b.Vectors) != b.Len()*spec.Dim {
			t.Fatalf("from %d: a block of %d ids and %d values", from, b.Len(), len(b.Vectors))
		}
		out.starts = append(out.starts, b.Start)
		for i := range b.Len() {
			out.ids = append(out.ids, hex.EncodeToString(b.IDs[32*i:32*i+32]))
			out.vecs = append(out.vecs, slices.Clone(b.Vectors[i*spec.Dim:(i+1)*spec.Dim]))
		}
		next += b.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadBlocks: a collection with two segments of several blocks each,
// deleted rows in both, items in the log past one memtable chunk, and items
// moved from a segment to the log by an upsert. ReadBlocks lends every live
// item once with its vector, in blocks that follow on; from any position,
// Each lends the same order's rest; a reader that releases what it scanned
// lends the same; and an error from fn, or a cancelled context, stops it.
func TestReadBlocks(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, c := mustStoreWith(t, dir, &Options{CompactLogBytes: 64 << 20})
	items := storetest.Items(5400, spec.Dim, 1)
	upsert := func(its []vectorstore.Item) {
		for lo := 0; lo < len(its); lo += 500 {
			if err := c.Upsert(ctx, "v1", its[lo:min(lo+500, len(its))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	upsert(items[:3000])
	flushLog(t, c) // 3000 rows: three blocks, the last short
	upsert(items[3000:4200])
	flushLog(t, c)
	want := map[string][]float32{}
	for _, it := range items {
		want[it.ID] = it.Vector
	}
	// The first segment loses every seventh item and its whole second
	// block (rows sorted by id), the second nothing: blocks gathered,
	// skipped and lent in place.
	var gone []string
	for i := 0; i < 3000; i += 7 {
		gone = append(gone, items[i].ID)
	}
	first := settle(c).segs[0]
	for row := 1024; row < 2048; row++ {
		gone = append(gone, hex.EncodeToString(first.id(row)))
	}
	for _, id := range gone {
		delete(want, id)
	}
	if err := c.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	upsert(items[4200:]) // 1200 in the log: two memtable chunks
	moved := storetest.Items(30, spec.Dim, 2)
	for i := range moved {
		moved[i].ID = items[1+7*i].ID // from the first segment to the log
		want[moved[i].ID] = moved[i].Vector
	}
	upsert(moved)
	if st := settle(c); len(st.segs) != 2 || st.segs[0].n != 3000 || st.segs[1].live != 1200 || len(st.mem.ids) != 1230 {
		t.Fatalf("premise: want segments of 3000 and 1200 rows, the second whole, and 1230 items in the log; have %d segments, %d in the log", len(st.segs), len(st.mem.ids))
	}

	check := func(name string, c vectorstore.Collection) {
		err := c.(vectorstore.BlockReader).ReadBlocks(ctx, func(blocks vectorstore.Blocks) error {
			if blocks.Len() != len(want) {
				t.Errorf("%s: Len %d, want %d", name, blocks.Len(), len(want))
			}
			all := readLent(t, blocks, 0)
			if len(all.ids) != len(want) {
				t.Errorf("%s: %d items lent, want %d", name, len(all.ids), len(want))
			}
			seen := map[string]bool{}
			for i, id := range all.ids {
				if seen[id] {
					t.Fatalf("%s: %s lent twice", name, id[:8])
				}
				seen[id] = true
				if !slices.Equal(all.vecs[i], want[id]) {
					t.Fatalf("%s: item %s at %d lent with the wrong vector", name, id[:8], i)
				}
			}
			for _, from := range []int{1, 1023, 1024, 1230, 1231, 2100, 3400, len(want) - 1, len(want)} {
				rest := readLent(t, blocks, from)
				if !slices.Equal(rest.ids, all.ids[from:]) {
					t.Errorf("%s: from %d: %d items lent, not the last %d in order", name, from, len(rest.ids), len(want)-from)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check("writer", c)
	releasing, err := Open(dir, &Options{ReadOnly: true, ReleaseScanned: true})
	if err != nil {
		t.Fatal(err)
	}
	defer releasing.Close()
	rc, err := releasing.Open(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	check("reader releasing what it scanned", rc)
	check("reader again, from released pages", rc)
	ids := slices.Collect(maps.Keys(want))
	for range 2 { // the second time from the pages the first released
		got, err := rc.Get(ctx, ids)
		if err != nil || len(got) != len(ids) {
			t.Fatalf("Get on the releasing reader: %d items, %v", len(got), err)
		}
		for _, it := range got {
			if !slices.Equal(it.Vector, want[it.ID]) {
				t.Fatalf("Get on the releasing reader: %s has the wrong vector", it.ID[:8])
			}
		}
	}

	stop := errors.New("stop")
	calls := 0
	err = rc.(vectorstore.BlockReader).ReadBlocks(ctx, func(blocks vectorstore.Blocks) error {
		return blocks.Each(ctx, 0, func(vectorstore.Block) error { calls++; return stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn's error: Each returned %v after %d calls, want stop after 1", err, calls)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = rc.(vectorstore.BlockReader).ReadBlocks(cancelled, func(blocks vectorstore.Blocks) error {
		return blocks.Each(cancelled, 0, func(vectorstore.Block) error { return nil })
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBitsetCountRange(t *testing.T) {
	b := newBitset(300)
	for _, i := range []int{0, 5, 63, 64, 65, 127, 128, 200, 299} {
		b.set(i)
	}
	for lo := 0; lo <= 300; lo += 7 {
		for hi := lo; hi <= 300; hi += 11 {
			want := 0
			for i := lo; i < hi; i++ {
				if b.has(i) {
					want++
				}
			}
			if got := b.countRange(lo, hi); got != want {
				t.Fatalf("countRange(%d, %d) = %d, want %d", lo, hi, got, want)
			}
		}
	}
}

// TestReadBlocksVariants: items of three vectors in a whole segment, in a
// segment with a deleted row, and in the log are lent with their first
// vectors only.
func TestReadBlocksVariants(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), &Options{CompactLogBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vs := spec
	vs.Variants = 3
	if err := s.Create(ctx, "c", vs); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	items := storetest.VariantItems(90, vs.Dim, vs.Variants, 3)
	want := map[string][]float32{}
	for lo := 0; lo < len(items); lo += 30 {
		if err := c.Upsert(ctx, "v1", items[lo:lo+30]); err != nil {
			t.Fatal(err)
		}
		if lo < 60 {
			flushLog(t, c)
		}
		for _, it := range items[lo : lo+30] {
			want[it.ID] = it.Vector[:vs.Dim]
		}
	}
	if err := c.Delete(ctx, []string{items[40].ID}); err != nil {
		t.Fatal(err)
	}
	delete(want, items[40].ID)
	if st := settle(c); len(st.segs) != 2 || len(st.mem.ids) != 30 {
		t.Fatalf("premise: want 2 segments and 30 items in the log, have %d and %d", len(st.segs), len(st.mem.ids))
	}
	err = c.(vectorstore.BlockReader).ReadBlocks(ctx, func(blocks vectorstore.Blocks) error {
		all := readLent(t, blocks, 0)
		if len(all.ids) != len(want) {
			t.Errorf("%d items lent, want %d", len(all.ids), len(want))
		}
		for i, id := range all.ids {
			if !slices.Equal(all.vecs[i], want[id]) {
				t.Errorf("item %s lent with %v, want its first vector %v", id[:8], all.vecs[i], want[id])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
