package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// FuzzReplay opens a collection whose log holds arbitrary records, framed
// with valid checksums so that their payloads reach the decoder, then an
// arbitrary tail. records is a run of (uint16 length, payload) pairs.
// Opening must fail with ErrCorrupt or give a collection that counts,
// scans and searches consistently; it must never panic.
func FuzzReplay(f *testing.F) {
	f.Add(realRecords(f), []byte(nil))
	f.Add(realRecords(f), []byte{200, 0, 0, 0, 1, 2, 3, 4, 1})
	f.Add([]byte{33, 0, opDelete}, []byte(nil))
	f.Fuzz(func(t *testing.T, records, tail []byte) {
		dir := t.TempDir()
		s, _ := mustStore(t, dir, 0)
		s.Close()
		var log []byte
		for len(records) >= 2 {
			n := min(int(binary.LittleEndian.Uint16(records)), len(records)-2)
			payload := records[2 : 2+n]
			records = records[2+n:]
			log = binary.LittleEndian.AppendUint32(log, uint32(len(payload)))
			log = binary.LittleEndian.AppendUint32(log, crc32.Checksum(payload, castagnoli))
			log = append(log, payload...)
		}
		log = append(log, tail...)
		if err := os.WriteFile(filepath.Join(dir, "c", "log"), log, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		c, err := s.Open(ctx, "c")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: %v, want ErrCorrupt or success", err)
			}
			return
		}
		n, err := c.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		scanned := 0
		err = c.Scan(ctx, func(it vectorstore.Item) error {
			scanned++
			if len(it.Vector) != spec.Dim {
				t.Errorf("item %s has %d values, want %d", it.ID, len(it.Vector), spec.Dim)
			}
			return nil
		})
		if err != nil || scanned != n {
			t.Fatalf("scan: %d items, err %v; count says %d", scanned, err, n)
		}
		hits, err := c.Search(ctx, spec.ModelVersion, make([]float32, spec.Dim), 5, nil)
		if err != nil || len(hits) != min(n, 5) {
			t.Fatalf("search: %d hits, err %v; %d items", len(hits), err, n)
		}
	})
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
	log, err := os.ReadFile(filepath.Join(dir, "c", "log"))
	if err != nil {
		f.Fatal(err)
	}
	var out []byte
	for len(log) >= headLen {
		n := int(binary.LittleEndian.Uint32(log))
		out = binary.LittleEndian.AppendUint16(out, uint16(n))
		out = append(out, log[headLen:headLen+n]...)
		log = log[headLen+n:]
	}
	return out
}
