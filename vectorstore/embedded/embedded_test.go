package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vectorstore.Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

var spec = vectorstore.Spec{Dim: 8, Metric: vectorstore.MetricL2, ModelVersion: "v1"}

// mustStore opens a store in dir with a collection "c" holding n items.
func mustStore(t testing.TB, dir string, n int) (*Store, vectorstore.Collection) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Create(ctx, "c", spec); err != nil && !errors.Is(err, vectorstore.ErrExists) {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		if err := c.Upsert(ctx, "v1", storetest.Items(n, 8, 1)); err != nil {
			t.Fatal(err)
		}
	}
	return s, c
}

func count(t *testing.T, c vectorstore.Collection) int {
	n, err := c.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPersistsAndLocks(t *testing.T) {
	dir := t.TempDir()
	s, c := mustStore(t, dir, 20)
	if err := c.Delete(context.Background(), []string{storetest.ID(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: err = %v, want ErrLocked", err)
	}
	s.Close()
	s, c = mustStore(t, dir, 0)
	defer s.Close()
	if n := count(t, c); n != 19 {
		t.Errorf("after reopen: %d items, want 19", n)
	}
}

// TestTornTail simulates a crash in the middle of a write: the partial
// record at the end is dropped, everything before it kept.
func TestTornTail(t *testing.T) {
	cases := []struct {
		name string
		tail []byte
	}{
		{"half a header", []byte{9, 0, 0}},
		{"header promising more than there is", []byte{200, 0, 0, 0, 1, 2, 3, 4, 1}},
		{"full record with a bad checksum", append([]byte{3, 0, 0, 0, 0, 0, 0, 0}, 1, 2, 3)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := mustStore(t, dir, 10)
			s.Close()
			log := filepath.Join(dir, "c", "log")
			f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tc.tail)
			f.Close()
			s, c := mustStore(t, dir, 0)
			if n := count(t, c); n != 10 {
				t.Errorf("%d items after a torn tail, want 10", n)
			}
			// The store keeps working after the cut.
			if err := c.Upsert(context.Background(), "v1", storetest.Items(12, 8, 1)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, c = mustStore(t, dir, 0)
			defer s.Close()
			if n := count(t, c); n != 12 {
				t.Errorf("%d items after writing past the cut, want 12", n)
			}
		})
	}
}

func TestCorruptMiddleIsReported(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustStore(t, dir, 10)
	s.Close()
	log := filepath.Join(dir, "c", "log")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	data[20] ^= 0xff // inside the first record's payload
	os.WriteFile(log, data, 0o644)
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Open(context.Background(), "c"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want ErrCorrupt", err)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	s, c := mustStore(t, dir, 0)
	ctx := context.Background()
	items := storetest.Items(10, 8, 1)
	for range 300 { // 3000 records for 10 live items
		if err := c.Upsert(ctx, "v1", items); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	log := filepath.Join(dir, "c", "log")
	before, _ := os.Stat(log)
	s, c = mustStore(t, dir, 0)
	defer s.Close()
	after, _ := os.Stat(log)
	if n := count(t, c); n != 10 || after.Size()*100 > before.Size() {
		t.Errorf("%d items; log %d bytes before open, %d after", n, before.Size(), after.Size())
	}
	if hits, _ := c.Search(ctx, "v1", items[4].Vector, 1, nil); len(hits) != 1 || hits[0].ID != items[4].ID {
		t.Errorf("search after compaction: %+v", hits)
	}
}
