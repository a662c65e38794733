package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// FuzzReplay opens a collection whose log holds arbitrary records, framed
// with valid checksums so that their payloads reach the decoder, then an
// arbitrary tail. records is a run of (uint16 length, payload) pairs.
// A reader must fail with ErrCorrupt, changing nothing, or give a
// collection that counts, scans and searches consistently; a writer must
// then agree with it, item for item. Nothing may panic.
func FuzzReplay(f *testing.F) {
	f.Add(realRecords(f), []byte(nil))
	f.Add(realRecords(f), []byte{'D', 'R', 'L', '2', 1, 2, 3, 4, 1})
	f.Add(realRecords(f), make([]byte, 20))
	f.Add([]byte{37, 0, 1, 0, 0, 0, opDelete}, []byte(nil))
	f.Fuzz(func(t *testing.T, records, tail []byte) {
		dir := t.TempDir()
		s, _ := mustStore(t, dir, 0)
		s.Close()
		var log []byte
		for len(records) >= 2 {
			n := min(int(binary.LittleEndian.Uint16(records)), len(records)-2)
			log = appendRecord(log, records[2:2+n])
			records = records[2+n:]
		}
		log = append(log, tail...)
		if err := os.WriteFile(logFile(t, dir), log, 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		r, err := Open(dir, &Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx := context.Background()
		c, err := r.Open(ctx, "c")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: %v, want ErrCorrupt or success", err)
			}
			if !maps.Equal(before, snapshot(t, dir)) {
				t.Fatal("a failed open changed the files")
			}
			return
		}
		items := consistent(t, c)
		w, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		wc, err := w.Open(ctx, "c")
		if err != nil {
			t.Fatalf("the writer fails where the reader opened: %v", err)
		}
		if got := consistent(t, wc); !maps.EqualFunc(items, got, func(a, b vectorstore.Item) bool {
			return a.Metadata == b.Metadata && bytes.Equal(floatBytes(a.Vector), floatBytes(b.Vector))
		}) {
			t.Fatalf("the writer reads %d items, the reader %d", len(got), len(items))
		}
	})
}

// consistent checks a collection counts, scans and searches alike, and
// returns its items.
func consistent(t *testing.T, c vectorstore.Collection) map[string]vectorstore.Item {
	ctx := context.Background()
	n, err := c.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]vectorstore.Item{}
	err = c.Scan(ctx, func(it vectorstore.Item) error {
		if len(it.Vector) != spec.Dim {
			t.Errorf("item %s has %d values, want %d", it.ID, len(it.Vector), spec.Dim)
		}
		items[it.ID] = it
		return nil
	})
	if err != nil || len(items) != n {
		t.Fatalf("scan: %d items, err %v; count says %d", len(items), err, n)
	}
	hits, err := c.Search(ctx, spec.ModelVersion, make([]float32, spec.Dim), 5, nil)
	if err != nil || len(hits) != min(n, 5) {
		t.Fatalf("search: %d hits, err %v; %d items", len(hits), err, n)
	}
	return items
}

// realRecords is the log of a real collection of three items, one of them
// deleted, in FuzzReplay's (uint16 length, payload) form.
func realRecords(f *testing.F) []byte {
	dir := f.TempDir()
	s, c := mustStore(f, dir, 3)
	if err := c.Delete(context.Background(), []string{storetest.ID(1)}); err != nil {
		f.Fatal(err)
	}
	s.Close()
	log, err := os.ReadFile(logFile(f, dir))
	if err != nil {
		f.Fatal(err)
	}
	var out []byte
	for len(log) >= recordHead {
		n := int(binary.LittleEndian.Uint32(log[4:]))
		out = binary.LittleEndian.AppendUint16(out, uint16(n))
		out = append(out, log[recordHead:recordHead+n]...)
		log = log[recordHead+n:]
	}
	return out
}

// FuzzSegment opens arbitrary bytes as a segment file, its header and
// section checksums made valid (where the header's table lies within the
// file) so that the parser and what reads a segment see them. Opening
// must fail with a *Damage or give a segment that searches, and whose
// every row reads once check's verification passes. Nothing may panic.
func FuzzSegment(f *testing.F) {
	sh := shapeOf(spec)
	dir := f.TempDir()
	if err := writeSegment(filepath.Join(dir, "seed"), sh, sortedItems(storetest.Items(5, spec.Dim, 1), sh), nil); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	v2 := bytes.Clone(seed)
	copy(v2, segMagicV2)
	binary.LittleEndian.PutUint32(v2[12:], sectionsV2)
	f.Add(v2)
	f.Fuzz(func(t *testing.T, data []byte) {
		count := 0
		if len(data) >= segHead {
			count = int(binary.LittleEndian.Uint32(data[12:]))
		}
		if count == numSections || count == sectionsV2 {
			data = bytes.Clone(data)
			for i := range count {
				p := data[24+24*i:]
				off, n := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
				if off <= uint64(len(data)) && n <= uint64(len(data))-off {
					binary.LittleEndian.PutUint32(p[16:], crc(data[off:off+n]))
				}
			}
			hl := 8 + 4 + 4 + 8 + count*24
			binary.LittleEndian.PutUint32(data[hl:], crc(data[:hl]))
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "seg"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		seg, err := openSegment(dir, "seg", sh)
		if err != nil {
			var d *Damage
			if !errors.As(err, &d) {
				t.Fatalf("open: %v, want a *Damage", err)
			}
			return
		}
		defer seg.close()
		v := &segView{segment: seg, dead: newBitset(seg.n), live: seg.n}
		q := storetest.UnitVector(rand.New(rand.NewPCG(1, 2)), spec.Dim)
		bd := newBounder(scorer{metric: spec.Metric, qq: 1, qn: 1}, spec.Dim)
		best, cands := v.search(0, q, 3, &vectorstore.Filter{Classes: []string{"c1"}, PathPrefixes: []string{"dir1"}}, bd, false)
		for _, h := range append(best, cands...) {
			dotBlock(q, v.vector(h.row), make([]float32, v.per))
		}
		if seg.verifyAll(true) != nil {
			return
		}
		for i := range seg.n {
			_, _, _ = seg.class(i), seg.path(i), seg.id(i)
			if _, err := seg.meta(i); err != nil {
				t.Fatalf("row %d: %v after the segment verified", i, err)
			}
		}
	})
}

// sortedItems is items as a compaction's source of rows.
func sortedItems(items []vectorstore.Item, sh shape) rowSource {
	m := newMemtable(sh.width())
	for _, it := range items {
		js, _ := json.Marshal(it.Metadata)
		m.put(it, js)
	}
	return newSortedMem(m)
}
