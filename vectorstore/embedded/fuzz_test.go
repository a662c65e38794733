package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"os"
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
