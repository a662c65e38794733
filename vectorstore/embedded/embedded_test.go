package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// TestConformance runs the suite on a store that keeps its items in the
// log, and on one that moves them into segments every few kilobytes and
// merges them, so that both paths of every operation are checked.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *Options
	}{
		{"log", nil},
		{"segments", &Options{CompactLogBytes: 2 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) func() vectorstore.Store {
				dir := t.TempDir()
				return func() vectorstore.Store {
					s, err := Open(dir, tc.opts)
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
			})
		})
	}
}

var spec = vectorstore.Spec{Dim: 8, Metric: vectorstore.MetricL2, ModelVersion: "v1"}

// mustStore opens a store in dir with a collection "c" holding n items.
func mustStore(t testing.TB, dir string, n int) (*Store, vectorstore.Collection) {
	t.Helper()
	s, c := mustStoreWith(t, dir, nil)
	ctx := context.Background()
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
	if _, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: err = %v, want ErrLocked", err)
	}
	s.Close()
	s, c = mustStore(t, dir, 0)
	defer s.Close()
	if n := count(t, c); n != 19 {
		t.Errorf("after reopen: %d items, want 19", n)
	}
}

// mustStoreWith opens a writer on dir with opts and the collection "c",
// creating it if needed.
func mustStoreWith(t testing.TB, dir string, opts *Options) (*Store, vectorstore.Collection) {
	t.Helper()
	s, err := Open(dir, opts)
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
	return s, c
}

// noticing is writer options whose notices are appended to notices.
func noticing(notices *[]string) *Options {
	return &Options{Logf: func(f string, a ...any) { *notices = append(*notices, fmt.Sprintf(f, a...)) }}
}

// mustReader opens a read-only store on dir, closed when the test ends, and
// its collection "c".
func mustReader(t testing.TB, dir string) vectorstore.Collection {
	t.Helper()
	r, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c, err := r.Open(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logFile is the path of collection c's current log.
func logFile(t testing.TB, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "c", manifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "c", m.Log)
}

// batches makes a collection "c" of n items written in batches of 10,
// and returns the store's folder.
func batches(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, c := mustStore(t, dir, 0)
	items := storetest.Items(n, 8, 1)
	for lo := 0; lo < n; lo += 10 {
		if err := c.Upsert(context.Background(), "v1", items[lo:min(lo+10, n)]); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	return dir
}

func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "LOCK" {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

// TestDamage: each way a log can be damaged or torn. Torn tails (never
// acknowledged) are ignored by a reader, which changes nothing, and cut
// off by a writer, which says so; every acknowledged item is still there.
// Damage fails loudly in readers and writers alike, naming the offset, and
// changes nothing.
func TestDamage(t *testing.T) {
	const n = 50 // five records of ten items
	cases := []struct {
		name    string
		damage  func(log []byte) []byte
		torn    bool  // else damage
		at      int64 // the damaged record's offset, for damage
		wantLen int   // items, for a torn tail
	}{
		{"bit flip in the first record's length", func(b []byte) []byte { b[4] ^= 1; return b }, false, 0, 0},
		{"bit flip in a middle record's length", func(b []byte) []byte { b[recLen(b, 2)+4] ^= 1; return b }, false, -3, 0},
		{"flipped byte in the last record's payload", func(b []byte) []byte { b[len(b)-200] ^= 0xff; return b }, false, -5, 0},
		{"zero-filled tail", func(b []byte) []byte { return append(b, make([]byte, 8)...) }, true, 0, n},
		{"long zero-filled tail", func(b []byte) []byte { return append(b, make([]byte, 5000)...) }, true, 0, n},
		{"half a header", func(b []byte) []byte { return append(b, 'D', 'R', 'L') }, true, 0, n},
		{"last record cut short", func(b []byte) []byte { return b[:len(b)-100] }, true, 0, n - 10},
		{"garbage header at the end", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{7}, 40)...) }, false, -6, 0},
		{"a zeroed record in the middle", func(b []byte) []byte { clear(b[recLen(b, 1):recLen(b, 2)]); return b }, false, -2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := batches(t, n)
			log := logFile(t, dir)
			data, _ := os.ReadFile(log)
			at := tc.at
			if at < 0 {
				at = int64(recLen(data, int(-at)-1))
			}
			os.WriteFile(log, tc.damage(data), 0o644)
			before := snapshot(t, dir)
			ctx := context.Background()

			r, err := Open(dir, &Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			c, err := r.Open(ctx, "c")
			if !tc.torn {
				var d *Damage
				if !errors.Is(err, ErrCorrupt) || !errors.As(err, &d) || d.Offset != at || !strings.Contains(err.Error(), "deeprank repair") {
					t.Fatalf("reader: err = %v, want ErrCorrupt at byte %d saying to repair", err, at)
				}
				w, err := Open(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Open(ctx, "c"); !errors.Is(err, ErrCorrupt) {
					t.Errorf("writer: err = %v, want ErrCorrupt", err)
				}
				w.Close()
				if !maps.Equal(before, snapshot(t, dir)) {
					t.Error("opening a damaged collection changed its files")
				}
				return
			}
			if err != nil {
				t.Fatalf("reader: %v", err)
			}
			if got := count(t, c); got != tc.wantLen {
				t.Errorf("reader: %d items, want %d", got, tc.wantLen)
			}
			if !maps.Equal(before, snapshot(t, dir)) {
				t.Error("a reader changed the files")
			}
			var notices []string
			w, wc := mustStoreWith(t, dir, noticing(&notices))
			defer w.Close()
			if got := count(t, wc); got != tc.wantLen {
				t.Errorf("writer: %d items, want %d", got, tc.wantLen)
			}
			if len(notices) != 1 || !strings.Contains(notices[0], "dropped") {
				t.Errorf("writer notices %q, want one about the dropped bytes", notices)
			}
			// The store keeps working after the cut.
			if err := wc.Upsert(ctx, "v1", storetest.Items(n+3, 8, 1)[n:]); err != nil {
				t.Fatal(err)
			}
			if got := count(t, wc); got != tc.wantLen+3 {
				t.Errorf("after writing past the cut: %d items, want %d", got, tc.wantLen+3)
			}
		})
	}
}

// recLen is the offset of record i (0-based) of a log.
func recLen(log []byte, i int) int {
	off := 0
	for range i {
		off += recordHead + int(binary.LittleEndian.Uint32(log[off+4:]))
	}
	return off
}

func TestLocks(t *testing.T) {
	dir := t.TempDir()
	s, c := mustStore(t, dir, 20)
	defer s.Close()
	if err := c.Delete(context.Background(), []string{storetest.ID(3)}); err != nil {
		t.Fatal(err)
	}
	waited := -1
	start := time.Now()
	_, err := Open(dir, &Options{LockWait: 300 * time.Millisecond, OnLockWait: func(pid int) { waited = pid }})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("second writer: err = %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if waited != os.Getpid() || time.Since(start) < 300*time.Millisecond {
		t.Errorf("second writer waited %v, told of pid %d", time.Since(start), waited)
	}
	r, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("a reader beside the writer: %v", err)
	}
	defer r.Close()
	rc, err := r.Open(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, rc); n != 19 {
		t.Errorf("reader: %d items, want 19", n)
	}
	for _, err := range []error{
		r.Create(context.Background(), "d", spec),
		r.Drop(context.Background(), "c"),
		rc.Upsert(context.Background(), "v1", storetest.Items(1, 8, 1)),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("write through a reader: err = %v, want ErrReadOnly", err)
		}
	}
}

// TestReaderFollowsWriter: a reader that stays open sees each batch, a
// compaction, a rebuild (old items, then new) and a drop.
func TestReaderFollowsWriter(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w, wc := mustStore(t, dir, 10)
	defer w.Close()
	rc := mustReader(t, dir)
	items := storetest.Items(30, 8, 1)
	steps := []struct {
		name string
		do   func() error
		want int
	}{
		{"upsert", func() error { return wc.Upsert(ctx, "v1", items[10:20]) }, 20},
		{"delete", func() error { return wc.Delete(ctx, []string{items[0].ID, items[15].ID}) }, 18},
		{"compact", func() error { return w.Compact(ctx, "c") }, 18},
		{"upsert after compaction", func() error { return wc.Upsert(ctx, "v1", items[20:30]) }, 28},
		{"delete from a segment", func() error { return wc.Delete(ctx, []string{items[1].ID}) }, 27},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if n := count(t, rc); n != step.want {
			t.Errorf("after %s the reader counts %d, want %d", step.name, n, step.want)
		}
	}
	if got, _ := rc.Get(ctx, []string{items[1].ID, items[2].ID}); len(got) != 1 || got[0].ID != items[2].ID {
		t.Errorf("reader's Get after a delete from a segment: %v", got)
	}
	spec2 := vectorstore.Spec{Dim: 8, Metric: vectorstore.MetricL2, ModelVersion: "v2"}
	err := w.Rebuild(ctx, "c", spec2, func(ctx context.Context, fresh vectorstore.Collection) error {
		if n := count(t, rc); n != 27 {
			t.Errorf("during the rebuild the reader counts %d, want the old 27", n)
		}
		return fresh.Upsert(ctx, "v2", items[:5])
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := rc.Info(ctx)
	if err != nil || info.Count != 5 || info.ModelVersion != "v2" {
		t.Errorf("after the rebuild the reader has %+v, %v; want 5 items of v2", info, err)
	}
	if err := w.Drop(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Count(ctx); !errors.Is(err, vectorstore.ErrNotFound) {
		t.Errorf("after a drop the reader gets %v, want ErrNotFound", err)
	}
}

// TestCompaction: a log past the threshold becomes segments, which merge
// as they grow; the collection reads the same through it all, in this
// process and after a reopen.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, c := mustStoreWith(t, dir, &Options{CompactLogBytes: 4 << 10})
	var err error
	items := storetest.Items(400, 8, 1)
	for lo := 0; lo < 400; lo += 7 {
		if err := c.Upsert(ctx, "v1", items[lo:min(lo+7, 400)]); err != nil {
			t.Fatal(err)
		}
	}
	var gone []string
	for i := 0; i < 400; i += 3 {
		gone = append(gone, items[i].ID)
	}
	if err := c.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	// Replace some, with new vectors.
	again := storetest.Items(400, 8, 2)
	if err := c.Upsert(ctx, "v1", again[100:150]); err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{}
	for i, it := range items {
		if i%3 != 0 {
			want[it.ID] = it.Vector
		}
	}
	for _, it := range again[100:150] {
		want[it.ID] = it.Vector
	}
	// Segments merge in tiers, a few of each.
	if st := settle(c); len(st.segs) < 1 || len(st.segs) > 8 || st.logEnd >= 4<<10 {
		t.Errorf("%d segments and a log of %d bytes for 400 items in 4 KB logs", len(st.segs), st.logEnd)
	}
	checkHolds(t, c, want)
	s.Close()
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err = s.Open(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	checkHolds(t, c, want)
	if err := s.Compact(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if st := c.(*collection).st; len(st.segs) != 1 || st.segs[0].n != len(want) {
		t.Errorf("after a full compaction: %d segments", len(st.segs))
	}
	checkHolds(t, c, want)
	ents, _ := os.ReadDir(filepath.Join(dir, "c"))
	if len(ents) != 3 { // manifest, segment, log
		t.Errorf("%d files left after compaction, want 3", len(ents))
	}
}

// checkHolds checks a collection holds exactly want, by every read path.
func checkHolds(t *testing.T, c vectorstore.Collection, want map[string][]float32) {
	t.Helper()
	ctx := context.Background()
	if n := count(t, c); n != len(want) {
		t.Errorf("count %d, want %d", n, len(want))
	}
	seen := 0
	c.Scan(ctx, func(it vectorstore.Item) error {
		seen++
		if !slices.Equal(it.Vector, want[it.ID]) {
			t.Errorf("scan: item %s has the wrong vector", it.ID[:8])
		}
		return nil
	})
	if seen != len(want) {
		t.Errorf("scan saw %d items, want %d", seen, len(want))
	}
	for id, v := range want {
		hits, err := c.Search(ctx, "v1", v, 1, nil)
		if err != nil || len(hits) != 1 || hits[0].ID != id || hits[0].Distance > 1e-3 {
			t.Fatalf("search for %s: %+v, %v", id[:8], hits, err)
		}
	}
}

// TestMigration: a collection of the old format is read by a writer into
// the new one, item for item; a reader asks for a writer first.
func TestMigration(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	items := storetest.Items(30, 8, 1)
	writeLegacy(t, filepath.Join(dir, "c"), items, []string{items[4].ID})
	r, _ := Open(dir, &Options{ReadOnly: true})
	if _, err := r.Open(ctx, "c"); !errors.Is(err, ErrOldFormat) {
		t.Errorf("reader: err = %v, want ErrOldFormat", err)
	}
	r.Close()
	var notices []string
	s, c := mustStoreWith(t, dir, noticing(&notices))
	defer s.Close()
	want := map[string][]float32{}
	for _, it := range items {
		want[it.ID] = it.Vector
	}
	delete(want, items[4].ID)
	checkHolds(t, c, want)
	if got, _ := c.Get(ctx, []string{items[7].ID}); len(got) != 1 || got[0].Metadata != items[7].Metadata {
		t.Errorf("metadata after migration: %+v, want %+v", got, items[7].Metadata)
	}
	for _, f := range []string{legacySpec, legacyLog} {
		if _, err := os.Stat(filepath.Join(dir, "c", f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("old file %s still there", f)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "29 items") {
		t.Errorf("notices %q", notices)
	}
}

// writeLegacy writes a collection folder in the format before segments.
func writeLegacy(t *testing.T, dir string, items []vectorstore.Item, deleted []string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	js, _ := json.Marshal(spec)
	os.WriteFile(filepath.Join(dir, legacySpec), js, 0o644)
	var log []byte
	legacyRecord := func(p []byte) {
		log = binary.LittleEndian.AppendUint32(log, uint32(len(p)))
		log = binary.LittleEndian.AppendUint32(log, crc(p))
		log = append(log, p...)
	}
	for _, it := range items {
		legacyRecord(encodeRecords([]entry{{op: opUpsert, id: it.ID, item: it}})[recordHead+4:])
	}
	for _, id := range deleted {
		legacyRecord(encodeRecords([]entry{{op: opDelete, id: id}})[recordHead+4:])
	}
	os.WriteFile(filepath.Join(dir, legacyLog), log, 0o644)
}

// TestCheckAndRepair: check finds damage without changing anything;
// repair keeps every record that verifies, sets the damaged log aside and
// leaves a collection that checks clean.
func TestCheckAndRepair(t *testing.T) {
	dir := batches(t, 50)
	ctx := context.Background()
	log := logFile(t, dir)
	data, _ := os.ReadFile(log)
	second := recLen(data, 1)
	data[second+30] ^= 0xff // the second record's payload
	os.WriteFile(log, data, 0o644)
	before := snapshot(t, dir)

	r, _ := Open(dir, &Options{ReadOnly: true})
	rep, err := r.Check(ctx, "c")
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Damage) != 1 || rep.Damage[0].Offset != int64(second) {
		t.Fatalf("check: %+v, want one damage at byte %d", rep, second)
	}
	if !maps.Equal(before, snapshot(t, dir)) {
		t.Error("check changed the files")
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fixed, err := s.Repair(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if fixed.Items != 40 || fixed.RecordsKept != 4 || fixed.DamagedBytes == 0 || len(fixed.MovedAside) != 1 {
		t.Errorf("repair: %+v, want 40 items from 4 records, the damaged log set aside", fixed)
	}
	aside, err := os.ReadFile(filepath.Join(dir, "c", fixed.MovedAside[0]))
	if err != nil || !bytes.Equal(aside, data) {
		t.Errorf("the damaged log set aside differs from it (%v)", err)
	}
	rep, err = s.Check(ctx, "c")
	if err != nil || !rep.OK() || rep.Items != 40 {
		t.Errorf("check after repair: %+v, %v", rep, err)
	}
}

// TestSegmentDamage: damage anywhere in a segment shows in check; damage in
// the ids and the sections reads index with (offsets, classes) also fails
// the open. Repair rebuilds a segment damaged only in what is made from
// its vectors (norms, codes), losing nothing, and sets aside one damaged
// elsewhere.
func TestSegmentDamage(t *testing.T) {
	cases := []struct {
		name     string
		section  int
		openFail bool
		rebuilt  bool
	}{
		{"vectors", secVectors, false, false},
		{"ids", secIDs, true, false},
		{"metadata", secMetas, false, false},
		{"path offsets", secPathOffs, true, false},
		{"classes", secClasses, true, false},
		{"norms", secNorms, false, true},
		{"codes", secCodes, false, true},
		{"code scales", secQuant, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := batches(t, 30)
			ctx := context.Background()
			s, _ := Open(dir, nil)
			if err := s.Compact(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			seg := s.open["c"].st.segs[0]
			file := filepath.Join(dir, "c", seg.file)
			at := seg.secs[tc.section][0] + 5
			s.Close()
			data, _ := os.ReadFile(file)
			data[at] ^= 0x55
			os.WriteFile(file, data, 0o644)
			s, _ = Open(dir, &Options{ReadOnly: true})
			defer s.Close()
			_, err := s.Open(ctx, "c")
			if tc.openFail != errors.Is(err, ErrCorrupt) {
				t.Errorf("open: %v; want ErrCorrupt: %v", err, tc.openFail)
			}
			rep, err := s.Check(ctx, "c")
			if err != nil || rep.OK() || rep.Damage[0].File != seg.file {
				t.Errorf("check: %+v, %v; want damage in %s", rep, err, seg.file)
			}
			s.Close()
			w, _ := Open(dir, nil)
			defer w.Close()
			fixed, err := w.Repair(ctx, "c")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 30, false: 0}[tc.rebuilt]; fixed.Items != want || fixed.RowsLost != 30-want || len(fixed.Rebuilt) != map[bool]int{true: 1}[tc.rebuilt] {
				t.Errorf("repair: %+v; want %d items", fixed, want)
			}
			if rep, err := w.Check(ctx, "c"); err != nil || !rep.OK() || rep.Items != fixed.Items {
				t.Errorf("check after repair: %+v, %v", rep, err)
			}
		})
	}
}

// TestDotKernels: both kernels, on float32 rows and on int8 codes, in
// assembly and in Go, against float64 sums, for lengths on and off their
// loops' strides.
func TestDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 3, 7, 8, 9, 16, 31, 32, 33, 64, 100, 128, 129, 384, 512} {
		for _, n := range []int{1, 2, 5} {
			q := make([]float32, d)
			rows := make([]float32, n*d+3) // longer than needed: only n rows count
			codes := make([]int8, n*d+3)
			for i := range q {
				q[i] = float32(rng.NormFloat64())
			}
			for i := range rows {
				rows[i] = float32(rng.NormFloat64())
				codes[i] = int8(rng.IntN(255) - 127)
			}
			got := map[string][]float32{"float32": make([]float32, n), "float32 in Go": make([]float32, n), "codes": make([]float32, n), "codes in Go": make([]float32, n)}
			dotBlock(q, rows, got["float32"])
			dotBlockGeneric(q, rows, got["float32 in Go"])
			dotCodes(q, codes, got["codes"])
			dotCodesGeneric(q, codes, got["codes in Go"])
			for kernel, out := range got {
				value := func(i int) float64 { return float64(rows[i]) }
				if strings.HasPrefix(kernel, "codes") {
					value = func(i int) float64 { return float64(codes[i]) }
				}
				for r := range n {
					var want, mag float64
					for j := range d {
						want += float64(q[j]) * value(r*d+j)
						mag += math.Abs(float64(q[j]) * value(r*d+j))
					}
					if math.Abs(float64(out[r])-want) > 1e-6*(mag+1) {
						t.Errorf("%s, d %d row %d: %g, want %g", kernel, d, r, out[r], want)
					}
				}
			}
		}
	}
}

// TestListSkipsBroken: a stray folder or a collection missing its
// manifest does not hide the others from List, and is named in its error;
// opening it says what it is rather than "not found".
func TestListSkipsBroken(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustStore(t, dir, 3)
	defer s.Close()
	os.MkdirAll(filepath.Join(dir, "stray"), 0o755)
	os.WriteFile(filepath.Join(dir, "stray", "notes.txt"), []byte("hi"), 0o644)
	ctx := context.Background()
	for _, r := range []*Store{s, func() *Store { r, _ := Open(dir, &Options{ReadOnly: true}); return r }()} {
		infos, err := r.List(ctx)
		if len(infos) != 1 || infos[0].Name != "c" || infos[0].Count != 3 {
			t.Errorf("list gave %+v, want the healthy collection c", infos)
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"stray"`) || !strings.Contains(err.Error(), "not a deeprank collection") {
			t.Errorf("list error %v, want one naming the stray folder", err)
		}
		if _, err := r.Open(ctx, "stray"); errors.Is(err, vectorstore.ErrNotFound) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("open stray: %v", err)
		}
	}
}

// TestReaderDuringCompactions: a reader searching while a writer upserts
// and compacts all the time (1 KB logs) never fails, and never sees the
// count go back: it reads a committed state each time, whatever files the
// writer has just replaced.
func TestReaderDuringCompactions(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w, wc := mustStoreWith(t, dir, &Options{CompactLogBytes: 1 << 10})
	defer w.Close()
	rc := mustReader(t, dir)
	items := storetest.Items(300, 8, 1)
	done := make(chan error)
	go func() {
		for lo := 0; lo < len(items); lo += 3 {
			if err := wc.Upsert(ctx, "v1", items[lo:lo+3]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	last, reads := 0, 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		n, err := rc.Count(ctx)
		if err != nil {
			t.Fatalf("reader after %d reads: %v", reads, err)
		}
		if n < last || n%3 != 0 {
			t.Fatalf("reader counted %d after %d: not a committed state", n, last)
		}
		if _, err := rc.Search(ctx, "v1", items[0].Vector, 3, nil); err != nil {
			t.Fatalf("reader search: %v", err)
		}
		last = n
		reads++
	}
	if n := count(t, rc); n != len(items) {
		t.Errorf("reader ends with %d items, want %d", n, len(items))
	}
	t.Logf("%d reads during the writes", reads)
	if reads < 10 {
		t.Fatal("the reader barely ran beside the writer: the test proved nothing")
	}
}

// TestSplitRecords: a batch larger than a record may be goes into several
// records, each within the limit, and reads back whole.
func TestSplitRecords(t *testing.T) {
	defer func(m int) { maxRecord = m }(maxRecord)
	maxRecord = 2000
	dir := t.TempDir()
	s, c := mustStore(t, dir, 0)
	items := storetest.Items(40, 8, 1)
	if err := c.Upsert(context.Background(), "v1", items); err != nil {
		t.Fatal(err)
	}
	s.Close()
	log, _ := os.ReadFile(logFile(t, dir))
	records := 0
	for off := 0; off < len(log); off += recordHead + int(binary.LittleEndian.Uint32(log[off+4:])) {
		if n := int(binary.LittleEndian.Uint32(log[off+4:])); n > maxRecord {
			t.Errorf("record at %d is %d bytes, over the limit", off, n)
		}
		records++
	}
	if records < 4 {
		t.Errorf("%d records for %d bytes of batch", records, len(log))
	}
	s, c = mustStore(t, dir, 0)
	defer s.Close()
	want := map[string][]float32{}
	for _, it := range items {
		want[it.ID] = it.Vector
	}
	checkHolds(t, c, want)
}

// TestRepairZeroedRecord: a record zeroed in the middle of the log (a lost
// sector) is damage that check lists and repair gets past, keeping the
// records on both sides.
func TestRepairZeroedRecord(t *testing.T) {
	dir := batches(t, 30)
	log := logFile(t, dir)
	data, _ := os.ReadFile(log)
	clear(data[recLen(data, 1):recLen(data, 2)])
	os.WriteFile(log, data, 0o644)
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rep, err := s.Check(ctx, "c")
	if err != nil || rep.OK() || rep.Damage[0].Offset != int64(recLen(data, 1)) {
		t.Fatalf("check: %+v, %v; want damage at byte %d", rep, err, recLen(data, 1))
	}
	fixed, err := s.Repair(ctx, "c")
	if err != nil || fixed.Items != 20 || fixed.RecordsKept != 2 {
		t.Fatalf("repair: %+v, %v; want 20 items from 2 records", fixed, err)
	}
}

// TestCheckBesideWriter: check runs beside a writer that compacts all the
// time and never takes the files a compaction replaced for damage.
func TestCheckBesideWriter(t *testing.T) {
	dir := t.TempDir()
	w, wc := mustStoreWith(t, dir, &Options{CompactLogBytes: 2 << 10})
	defer w.Close()
	r, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	items := storetest.Items(300, 8, 1)
	done := make(chan error, 1)
	go func() {
		for lo := 0; lo < len(items); lo += 3 {
			if err := wc.Upsert(ctx, "v1", items[lo:lo+3]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	checks := 0
	for finished := false; !finished; checks++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		rep, err := r.Check(ctx, "c")
		if err != nil || !rep.OK() {
			t.Fatalf("check %d beside the writer: %+v, %v", checks, rep, err)
		}
	}
	if checks < 5 {
		t.Fatalf("only %d checks ran beside the writer: the test proved nothing", checks)
	}
}

// TestRefusesNonFinite: a NaN or infinite value would rank first in every
// search; upserts and queries holding one are refused, as are modification
// times the log cannot hold.
func TestRefusesNonFinite(t *testing.T) {
	_, c := mustStore(t, t.TempDir(), 3)
	ctx := context.Background()
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		it := storetest.Items(4, 8, 2)[3]
		it.Vector[2] = bad
		if err := c.Upsert(ctx, "v1", []vectorstore.Item{it}); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("upsert of %v: err = %v, want ErrInvalid", bad, err)
		}
		if _, err := c.Search(ctx, "v1", it.Vector, 1, nil); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("search with %v: err = %v, want ErrInvalid", bad, err)
		}
	}
	// JSON, the log's metadata, has no year 10000: refused, not stored as
	// a record no open could read.
	it := storetest.Items(4, 8, 2)[3]
	it.Metadata.ModTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := c.Upsert(ctx, "v1", []vectorstore.Item{it}); !errors.Is(err, vectorstore.ErrInvalid) {
		t.Errorf("upsert of the year 10000: err = %v, want ErrInvalid", err)
	}
	if n := count(t, c); n != 3 {
		t.Errorf("%d items after refused upserts, want 3", n)
	}
}

// TestFolderModes: a collection's folder and files are readable by all, for
// readers (a server) running as another user.
func TestFolderModes(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustStore(t, dir, 3)
	defer s.Close()
	filepath.WalkDir(filepath.Join(dir, "c"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		if want := fs.FileMode(0o444); info.Mode().Perm()&want != want {
			t.Errorf("%s has mode %v: not readable by all", p, info.Mode().Perm())
		}
		return nil
	})
}

// TestRepairMissingFiles: a segment or log that is gone altogether is
// reported by check, and repair gets past it, keeping the rest.
func TestRepairMissingFiles(t *testing.T) {
	dir := batches(t, 30)
	ctx := context.Background()
	s, c := mustStore(t, dir, 0)
	if err := s.Compact(ctx, "c"); err != nil { // 30 items in a segment
		t.Fatal(err)
	}
	if err := c.Upsert(ctx, "v1", storetest.Items(35, 8, 3)[30:]); err != nil { // 5 in the log
		t.Fatal(err)
	}
	s.Close()
	os.Remove(logFile(t, dir))
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.Check(ctx, "c"); err != nil || rep.OK() {
		t.Fatalf("check with the log gone: %+v, %v", rep, err)
	}
	fixed, err := s.Repair(ctx, "c")
	if err != nil || fixed.Items != 30 {
		t.Fatalf("repair: %+v, %v; want the segment's 30 items", fixed, err)
	}
	if rep, err := s.Check(ctx, "c"); err != nil || !rep.OK() {
		t.Errorf("check after repair: %+v, %v", rep, err)
	}
}

// TestManifestFormat: a collection of several vectors an item is format
// 3, which deeprank of format 2 alone refuses rather than taking its rows'
// width for damage; one of partly learned vectors is format 4, which
// deeprank of format 3 refuses rather than drop the field; a manifest
// whose format does not fit its spec, or whose learned part is not within
// its vectors, is refused. Format 5, whose segments may carry codes, is
// any spec's.
func TestManifestFormat(t *testing.T) {
	for _, tc := range []struct {
		variants, learned, format int
		ok                        bool
	}{
		{0, 0, 2, true}, {1, 0, 2, true}, {3, 0, 3, true},
		{0, 5, 4, true}, {3, 5, 4, true}, {3, spec.Dim - 1, 4, true},
		{3, 0, 2, false}, {0, 0, 3, false}, {1, 0, 3, false}, {2, 0, 4, false},
		{0, 5, 2, false}, {3, 5, 3, false}, {0, 0, 6, false},
		{0, 0, 5, true}, {3, 0, 5, true}, {3, 5, 5, true},
		{0, spec.Dim, 4, false}, {0, -1, 2, false},
	} {
		vs := spec
		vs.Variants, vs.Learned = tc.variants, tc.learned
		if tc.ok && tc.format != formatCodes && formatOf(vs) != tc.format {
			t.Errorf("variants %d, learned %d: format %d, want %d", tc.variants, tc.learned, formatOf(vs), tc.format)
		}
		m := &manifest{Format: tc.format, UID: "0123456789abcdef", Spec: vs, Log: newName("log-")}
		got, err := decodeManifest(encodeManifest(m))
		if (err == nil) != tc.ok {
			t.Errorf("variants %d, learned %d, format %d: decode gave %v, want ok %v", tc.variants, tc.learned, tc.format, err, tc.ok)
		}
		if err == nil && got.Spec != vs {
			t.Errorf("variants %d, learned %d: decoded spec %+v, want %+v", tc.variants, tc.learned, got.Spec, vs)
		}
	}
}
