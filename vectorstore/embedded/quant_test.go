package embedded

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// TestQuantize: a code, scaled, is within the residual's norm of its
// vector, value by value and in the dot product with any query (the bound
// search relies on), and a vector of zeros has a code of zeros.
func TestQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	spike := storetest.UnitVector(rng, 64)
	spike[7] = 100
	for _, tc := range []struct {
		name string
		v    []float32
	}{
		{"unit", storetest.UnitVector(rng, 384)},
		{"spike", spike},
		{"zeros", make([]float32, 16)},
		{"one value", []float32{-3.5}},
		{"tiny", []float32{1e-30, -2e-30, 3e-30}},
		{"too small to code", []float32{1e-38, 0, -3e-39}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes := make([]int8, len(tc.v))
			scale, resid := quantize(tc.v, codes)
			var r2 float64
			for i, x := range tc.v {
				d := float64(x) - float64(scale)*float64(codes[i])
				if scale > 0 && math.Abs(d) > float64(scale)/2*(1+1e-6) {
					t.Errorf("value %d: %g, code %d x scale %g", i, x, codes[i], scale)
				}
				r2 += d * d
			}
			if float64(resid) < math.Sqrt(r2) {
				t.Errorf("residual %g below the real %g", resid, math.Sqrt(r2))
			}
			if !codeFits(tc.v, codes, scale, resid) {
				t.Errorf("check rejects quantize's code")
			}
			zero := !slices.ContainsFunc(tc.v, func(x float32) bool { return x != 0 })
			if scale == 0 && (zero && resid != 0 || slices.ContainsFunc(codes, func(c int8) bool { return c != 0 })) {
				t.Errorf("zero scale with residual %g, codes %v", resid, codes)
			}
			for range 100 {
				q := storetest.UnitVector(rng, len(tc.v))
				var exact, approx float64
				for i := range q {
					exact += float64(q[i]) * float64(tc.v[i])
					approx += float64(q[i]) * float64(scale) * float64(codes[i])
				}
				if math.Abs(exact-approx) > float64(resid) {
					t.Fatalf("q.v %g, from the code %g: apart by more than the residual %g", exact, approx, resid)
				}
			}
		})
	}
}

// TestCodeFits: check accepts a code another build may make (a value at
// a tie rounded either way, its residual measured from it) and rejects
// codes, scales and residuals that no build makes.
func TestCodeFits(t *testing.T) {
	// Largest value 127: scale 1, so a code is the value rounded.
	v := []float32{127, 2.5, -0.2, 10.4}
	codes := make([]int8, len(v))
	scale, resid := quantize(v, codes)
	other := slices.Clone(codes)
	other[1] = 3 // 2.5 rounded up, not to even
	otherResid := roundUp(math.Sqrt(residual2(v, other, scale)))
	offByOne := slices.Clone(codes)
	offByOne[3] = 11
	for _, tc := range []struct {
		name         string
		v            []float32
		codes        []int8
		scale, resid float32
		fits         bool
	}{
		{"as made", v, codes, scale, resid, true},
		{"tie rounded the other way", v, other, scale, otherResid, true},
		{"larger residual", v, codes, scale, resid * 2, true},
		{"code off by one", v, offByOne, scale, roundUp(math.Sqrt(residual2(v, offByOne, scale))), false},
		{"residual too small", v, codes, scale, resid * 0.99, false},
		{"scale not the code's", v, codes, scale * 1.01, resid * 2, false},
		{"zeros with a code", []float32{0, 0}, []int8{0, 1}, 0, 0, false},
		{"zeros", []float32{0, 0}, []int8{0, 0}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := codeFits(tc.v, tc.codes, tc.scale, tc.resid); got != tc.fits {
				t.Errorf("codeFits = %v, want %v", got, tc.fits)
			}
		})
	}
}

// codeItems is n items of per vectors of dim in one of the shapes that
// make bounds hard: near-ties, exact duplicates, and vectors of very
// different lengths with zeros among them.
func codeItems(kind string, n, dim, per int, rng *rand.Rand) []vectorstore.Item {
	items := storetest.Items(n, dim*per, 11)
	base := storetest.UnitVectors(rng, dim, per)
	for i := range items {
		v := items[i].Vector
		switch kind {
		case "random":
			copy(v, storetest.UnitVectors(rng, dim, per))
		case "near ties": // all within 1e-4 of one row: every bound overlaps
			for j := range v {
				v[j] = base[j] + 1e-4*float32(rng.NormFloat64())
			}
		case "duplicates": // five rows, repeated: ties broken by position
			copy(v, storetest.Items(5, dim*per, 12)[i%5].Vector)
		case "lengths": // zeros, spikes, and lengths from 0.01 to 100
			for j := range v {
				v[j] = float32(rng.NormFloat64()) * float32(math.Pow(10, float64(i%5-2)))
			}
			switch i % 7 {
			case 0:
				clear(v)
			case 1:
				v[i%len(v)] = 50
			}
		}
	}
	return items
}

// TestSearchCodesMatchFloat: a search that scans codes returns what a
// scan of every float32 vector returns, the same items in the same order
// at the same distances, on data that makes its bounds loose or useless,
// under every metric, with variants, filters, and k past the rows.
func TestSearchCodesMatchFloat(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, kind := range []string{"random", "near ties", "duplicates", "lengths"} {
		for _, metric := range []vectorstore.Metric{vectorstore.MetricL2, vectorstore.MetricCosine, vectorstore.MetricIP} {
			for _, per := range []int{1, 3} {
				t.Run(kind+"/"+string(metric)+"/"+string(rune('0'+per)), func(t *testing.T) {
					const dim = 24
					s, err := Open(t.TempDir(), nil)
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					sp := vectorstore.Spec{Dim: dim, Metric: metric, ModelVersion: "v1", Variants: per}
					if err := s.Create(ctx, "c", sp); err != nil {
						t.Fatal(err)
					}
					c, _ := s.Open(ctx, "c")
					items := codeItems(kind, 600, dim, per, rng)
					// Two segments and a log, with some rows deleted.
					for _, part := range [][]vectorstore.Item{items[:300], items[300:550], items[550:]} {
						if err := c.Upsert(ctx, "v1", part); err != nil {
							t.Fatal(err)
						}
						if len(part) > 50 {
							flushLog(t, c)
						}
					}
					if err := c.Delete(ctx, []string{items[3].ID, items[400].ID}); err != nil {
						t.Fatal(err)
					}
					st := c.(*collection).st
					queries := [][]float32{items[0].Vector[:dim], items[450].Vector[dim*(per-1):], make([]float32, dim)}
					for range 5 {
						queries = append(queries, storetest.UnitVector(rng, dim))
					}
					queries[4][0] = 30 // a long query
					for qi, q := range queries {
						for _, k := range []int{1, 10, 1000} {
							for _, f := range []*vectorstore.Filter{nil, {Classes: []string{"c1"}}} {
								got := st.search(q, k, f, false)
								want := floatSearch(st, q, k, f)
								if !slices.Equal(got, want) {
									t.Fatalf("query %d, k %d, filter %v: codes give %v, float32 %v", qi, k, f, got, want)
								}
							}
						}
					}
				})
			}
		}
	}
}

// floatSearch is st.search with every segment read as one written before
// codes (DRSEG002's sections, no codes), so that it scans the float32
// vectors.
func floatSearch(st *state, q []float32, k int, f *vectorstore.Filter) []hit {
	codes, sections := make([][]int8, len(st.segs)), make([]int, len(st.segs))
	for i, v := range st.segs {
		codes[i], sections[i] = v.codes, v.nSections
		v.codes, v.nSections = nil, sectionsV2
	}
	defer func() {
		for i, v := range st.segs {
			v.codes, v.nSections = codes[i], sections[i]
		}
	}()
	return st.search(q, k, f, false)
}

// TestSegmentV2: a collection whose segment was written before codes
// (DRSEG002, under a format 4 manifest) opens, searches and checks as it
// did, and a compaction rewrites it with codes under format 5.
func TestSegmentV2(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sp := vectorstore.Spec{Dim: 16, Metric: vectorstore.MetricCosine, ModelVersion: "v1", Variants: 2, Learned: 8}
	items := storetest.VariantItems(100, 16, 2, 9)
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "c", sp); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Open(ctx, "c")
	if err := c.Upsert(ctx, "v1", items); err != nil {
		t.Fatal(err)
	}
	flushLog(t, c)
	seg := c.(*collection).st.segs[0].file
	want, err := c.Search(ctx, "v1", items[5].Vector[:16], 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	toV2(t, filepath.Join(dir, "c", seg))
	man, err := os.ReadFile(filepath.Join(dir, "c", manifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeManifest(man)
	if err != nil {
		t.Fatal(err)
	}
	m.Format = formatLearned
	if err := writeManifest(filepath.Join(dir, "c"), manifestName, m); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.Check(ctx, "c"); err != nil || !rep.OK() || rep.Items != 100 || rep.Uncoded != 1 {
		t.Fatalf("check of the DRSEG002 segment: %+v, %v; want it ok, one segment uncoded", rep, err)
	}
	c, err = s.Open(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if v := c.(*collection).st.segs[0]; v.codes != nil || v.nSections != sectionsV2 {
		t.Fatalf("segment read with codes (%d sections)", v.nSections)
	}
	got, err := c.Search(ctx, "v1", items[5].Vector[:16], 5, nil)
	if err != nil || !slices.EqualFunc(got, want, func(a, b vectorstore.Hit) bool { return a.ID == b.ID && a.Distance == b.Distance }) {
		t.Fatalf("search of the DRSEG002 segment: %v, %v; want %v", got, err, want)
	}
	if err := s.Compact(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	st := c.(*collection).st
	if len(st.segs) != 1 || !st.segs[0].coded() || st.man.Format != formatCodes {
		t.Fatalf("after compaction: %d segments, codes %v, format %d; want one with codes, format 5", len(st.segs), st.segs[0].codes != nil, st.man.Format)
	}
	got, err = c.Search(ctx, "v1", items[5].Vector[:16], 5, nil)
	if err != nil || !slices.EqualFunc(got, want, func(a, b vectorstore.Hit) bool { return a.ID == b.ID && a.Distance == b.Distance }) {
		t.Fatalf("search after compaction: %v, %v; want %v", got, err, want)
	}
	if rep, err := s.Check(ctx, "c"); err != nil || !rep.OK() || rep.Uncoded != 0 {
		t.Fatalf("check of the codes the compaction made: %+v, %v", rep, err)
	}
}

// toV2 rewrites a segment's header as a DRSEG002 one: its first nine
// sections, which is what a segment written before codes holds.
func toV2(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	head := append([]byte(segMagicV2), data[8:12]...)
	head = binary.LittleEndian.AppendUint32(head, sectionsV2)
	head = append(head, data[16:24+24*sectionsV2]...)
	head = binary.LittleEndian.AppendUint32(head, crc(head))
	clear(data[:segHead])
	copy(data, head)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCodes: codes that pass their checksums but differ from their
// vectors (what a writer's bug would leave) are damage to check, since
// search's exactness rests on them; repair codes the segment again, its
// rows and its mask of deleted rows kept.
func TestCheckCodes(t *testing.T) {
	ctx := context.Background()
	dir := batches(t, 30)
	s, _ := Open(dir, nil)
	if err := s.Compact(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Open(ctx, "c")
	if err := c.Delete(ctx, []string{storetest.ID(4)}); err != nil {
		t.Fatal(err)
	}
	flushLog(t, c)
	seg := s.open["c"].st.segs[0]
	if seg.ref.Mask == "" {
		t.Fatal("no mask after a delete and a flush")
	}
	file := filepath.Join(dir, "c", seg.file)
	at, n := seg.secs[secCodes][0], seg.secs[secCodes][1]
	s.Close()
	data, _ := os.ReadFile(file)
	data[at+3]++
	// The section's checksum made right again: only the codes are wrong.
	p := data[24+24*secCodes:]
	binary.LittleEndian.PutUint32(p[16:], crc(data[at:at+n]))
	hl := 8 + 4 + 4 + 8 + numSections*24
	binary.LittleEndian.PutUint32(data[hl:], crc(data[:hl]))
	os.WriteFile(file, data, 0o644)
	s, _ = Open(dir, &Options{ReadOnly: true})
	defer s.Close()
	rep, err := s.Check(ctx, "c")
	if err != nil || rep.OK() || !strings.Contains(rep.Damage[0].Reason, "codes of row 0 do not fit") {
		t.Errorf("check: %+v, %v; want the codes of row 0 named", rep, err)
	}
	s.Close()
	w, _ := Open(dir, nil)
	defer w.Close()
	fixed, err := w.Repair(ctx, "c")
	if err != nil || fixed.Items != 29 || fixed.RowsLost != 0 || len(fixed.Rebuilt) != 1 || len(fixed.MovedAside) != 1 {
		t.Fatalf("repair: %+v, %v; want the segment rebuilt, 29 items", fixed, err)
	}
	if rep, err := w.Check(ctx, "c"); err != nil || !rep.OK() || rep.Items != 29 {
		t.Errorf("check after repair: %+v, %v", rep, err)
	}
}

// TestSearchCodesManyRows: near-ties over enough rows that the scan is
// split across cores and prunes its candidates as it goes.
func TestSearchCodesManyRows(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp := vectorstore.Spec{Dim: 8, Metric: vectorstore.MetricCosine, ModelVersion: "v1"}
	if err := s.Create(ctx, "c", sp); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Open(ctx, "c")
	rng := rand.New(rand.NewPCG(9, 10))
	items := codeItems("near ties", 40_000, 8, 1, rng)
	for b := 0; b < len(items); b += 5000 {
		if err := c.Upsert(ctx, "v1", items[b:b+5000]); err != nil {
			t.Fatal(err)
		}
	}
	flushLog(t, c)
	st := c.(*collection).st
	if len(st.segs) != 1 || st.segs[0].n < 16384 {
		t.Fatalf("%d segments; want one of all the rows", len(st.segs))
	}
	for qi := range 5 {
		q := storetest.UnitVector(rng, 8)
		for _, k := range []int{1, 100} {
			if got, want := st.search(q, k, nil, false), floatSearch(st, q, k, nil); !slices.Equal(got, want) {
				t.Fatalf("query %d, k %d: codes give %v, float32 %v", qi, k, got, want)
			}
		}
	}
}

// BenchmarkSearchScan times a search of 100,000 items of sixteen vectors
// of 384 values (the shape of the default model b1ae77c3aca0ba13, which
// README's figures were measured on; today's stores 26 of 385), scanning
// the codes and, side by side, the float32 vectors (as a segment written
// before codes is).
func BenchmarkSearchScan(b *testing.B) {
	const n, dim, per = 100_000, 384, 16
	ctx := context.Background()
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sp := vectorstore.Spec{Dim: dim, Metric: vectorstore.MetricCosine, ModelVersion: "v1", Variants: per}
	if err := s.Create(ctx, "c", sp); err != nil {
		b.Fatal(err)
	}
	c, _ := s.Open(ctx, "c")
	rng := rand.New(rand.NewPCG(11, 12))
	for lo := 0; lo < n; lo += 1000 {
		items := storetest.Items(1000, dim, uint64(lo))
		for i := range items {
			items[i].ID = storetest.ID(lo + i)
			items[i].Vector = storetest.UnitVectors(rng, dim, per)
		}
		if err := c.Upsert(ctx, "v1", items); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Compact(ctx, "c"); err != nil {
		b.Fatal(err)
	}
	st := c.(*collection).st
	for _, scan := range []string{"codes", "float32"} {
		b.Run("scan="+scan, func(b *testing.B) {
			search := st.search
			if scan == "float32" {
				search = func(q []float32, k int, f *vectorstore.Filter, _ bool) []hit { return floatSearch(st, q, k, f) }
			}
			for b.Loop() {
				if hits := search(storetest.UnitVector(rng, dim), 10, nil, false); len(hits) != 10 {
					b.Fatalf("%d hits", len(hits))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/search")
		})
	}
}

// BenchmarkQuantize times the codes a compaction makes, a vector of 384
// values at a time.
func BenchmarkQuantize(b *testing.B) {
	v := storetest.UnitVector(rand.New(rand.NewPCG(1, 1)), 384)
	codes := make([]int8, len(v))
	for b.Loop() {
		quantize(v, codes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(v)), "ns/value")
}

// TestSegmentNoRows: a segment of no rows written with codes counts as
// coded (check's Uncoded), though it has no code to map.
func TestSegmentNoRows(t *testing.T) {
	sh := shapeOf(spec)
	dir := t.TempDir()
	if err := writeSegment(filepath.Join(dir, "empty"), sh, sortedItems(nil, sh), nil); err != nil {
		t.Fatal(err)
	}
	seg, err := openSegment(dir, "empty", sh)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.close()
	if seg.n != 0 || !seg.coded() || seg.verifyAll(true) != nil {
		t.Errorf("%d rows, coded %v, verify %v; want 0 rows, coded, verified", seg.n, seg.coded(), seg.verifyAll(true))
	}
}
