package integration

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/deeprank/deeprank/dupes"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// BenchmarkDupesMilvus runs dupes (the Index method, as `deeprank dupes`
// does on Milvus) over 100,000 random unit vectors of 128 dimensions in
// Milvus (its container, default HNSW index, COSINE) with planted groups of
// near-duplicates, as BenchmarkDupesScale (cmd/deeprank) plants them on the
// embedded store: one vector in 100 is the base of a group of 2 to 5, each
// copy within half the default threshold of the base. It reports the time
// dupes takes once the index is built, at Bounded consistency (a
// collection at rest: Strong waits for the server's next time tick on
// every search), and the recall of the planted pairs (both images in one
// group) and of the planted groups (found exactly). The index is
// approximate, so recall may fall short of 1; the benchmark reports it and
// does not fail on it. $DEEPRANK_BENCH_VECTORS sets the size; run with
// -benchtime 1x:
//
//	go test ./integration -run XXX -bench DupesMilvus -benchtime 1x -timeout 60m
func BenchmarkDupesMilvus(b *testing.B) {
	const metric = vectorstore.MetricCosine
	threshold, err := defaultmodel.CopyThreshold()
	if err != nil {
		b.Fatal(err)
	}
	items, planted := plantedItems(benchVectors(), 128, threshold)
	ctx := context.Background()
	cfg, s := benchMilvus(b)
	mustFill(b, s, "bench", vectorstore.Spec{Dim: 128, Metric: metric, ModelVersion: "bench"}, items)
	if err := s.WaitIndexed(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	bc := openBounded(b, cfg, "bench")
	var res *dupes.Result
	for b.Loop() {
		res, err = dupes.Find(ctx, bc, &dupes.Options{MaxDistance: metric.FromL2(threshold), Method: dupes.Index})
		if err != nil {
			b.Fatal(err)
		}
	}
	group := map[string]int{}
	for gi, g := range res.Groups {
		for _, m := range g.Members {
			group[m.ID] = gi
		}
	}
	pairs, together, exact := 0, 0, 0
	for _, p := range planted {
		whole := true
		for i, a := range p {
			for _, x := range p[i+1:] {
				pairs++
				ga, okA := group[a]
				gx, okX := group[x]
				if okA && okX && ga == gx {
					together++
				} else {
					whole = false
				}
			}
		}
		if gi, ok := group[p[0]]; whole && ok && len(res.Groups[gi].Members) == len(p) {
			exact++
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(float64(together)/float64(pairs), "pair-recall")
	b.ReportMetric(float64(exact)/float64(len(planted)), "group-recall")
	b.ReportMetric(float64(len(res.Groups)), "groups")
	b.ReportMetric(float64(len(planted)), "planted-groups")
}

// plantedItems makes n items: random unit vectors, one in 100 the base of
// a group with 1 to 4 copies, each within threshold/2 of the base (so
// within threshold of each other); it returns the groups as IDs.
func plantedItems(n, dim int, threshold float32) ([]vectorstore.Item, [][]string) {
	rng := rand.New(rand.NewPCG(5, uint64(n)))
	items := make([]vectorstore.Item, 0, n)
	var groups [][]string
	add := func(v []float32) string {
		id := storetest.ID(len(items))
		items = append(items, vectorstore.Item{ID: id, Vector: v, Metadata: vectorstore.Metadata{Path: "/photos/" + strconv.Itoa(len(items)) + ".jpg"}})
		return id
	}
	for len(items) < n {
		base := storetest.UnitVector(rng, dim)
		g := []string{add(base)}
		if rng.IntN(100) == 0 {
			for range 1 + rng.IntN(4) {
				if len(items) >= n {
					break
				}
				g = append(g, add(storetest.NearCopy(rng, base, threshold/2)))
			}
			if len(g) > 1 {
				groups = append(groups, g)
			}
		}
	}
	return items, groups
}
