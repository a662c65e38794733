package dupes

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
)

// Method says how Find and Against look for near pairs; see the package
// documentation.
type Method int

const (
	// Exact compares every pair, reading every vector into memory once.
	// It compares images' own vectors, not their variants'
	// (vectorstore.Spec.Variants), and of those the learned part
	// (vectorstore.Spec.Learned): a thumbnail moves under a crop or a
	// mirror image.
	Exact Method = iota
	// Index asks the store's search for each image's nearest neighbours.
	// Where images have variants, which the search meets too, each hit is
	// measured again between own vectors, so both methods join the same
	// pairs. Where vectors are partly learned, the search ranks by
	// learned parts only nearly (each scaled by its image's share), so it
	// asks for at least three times the hits (as many as variants give) and
	// measures each again.
	Index
)

// DefaultNeighbours is Options.Neighbours when it is 0.
const DefaultNeighbours = 16

// Options tunes Find and Against. It is required: the threshold has no
// default that fits every model (see MaxDistance).
type Options struct {
	// MaxDistance makes two images near-duplicates when their distance,
	// under the collection's metric, is at most this. For unit vectors and
	// an L2 threshold t, the COSINE threshold is t*t/2 and the IP one
	// t*t/2 - 1 (see vectorstore.Metric.FromL2).
	MaxDistance float32
	// Method is Exact (the zero value) or Index.
	Method Method
	// Neighbours bounds the near-duplicates looked for per image: with
	// Index, the k of each search; with Against, the matches kept per
	// image, nearest first. 0 means DefaultNeighbours.
	Neighbours int
	// Distinct pairs are never joined (Find only).
	Distinct *Distinct
	// AspectValue says that each vector ends with an aspect value
	// (model.Spec.AspectWeight), which Index's searches then set to the
	// searching image's own (under L2 and COSINE; IP, which scores it as
	// a product, leaves it zero): the store's distance counts it, and
	// with the rest left zero an image of another shape than a square
	// would fall behind every square one.
	AspectValue bool
	// Workers is how many tiles (Exact) or searches (Index) run at once;
	// 0 means GOMAXPROCS for Exact, and 8 x GOMAXPROCS for Index, whose
	// searches mostly wait on the store (Milvus answers a search under
	// Strong consistency after its next time tick, some 200 ms).
	Workers int
	// Progress, if set, is called about once a second and at the end,
	// from the goroutine that called Find or Against.
	Progress func(Progress)
}

// Progress is a snapshot of a run, in images: with Exact, Done is the
// share of pairs compared times Total, so that a rate gives an honest ETA.
type Progress struct {
	Total, Done int
	Elapsed     time.Duration
}

// Member is an image of a group.
type Member struct {
	ID       string               `json:"id"`
	Metadata vectorstore.Metadata `json:"metadata"`
	// Distance to the group's first member, under the collection's metric
	// (between learned parts where the vectors have one: see the package
	// documentation).
	Distance float32 `json:"distance"`
	// Missing is set when no file is at Metadata.Path any more.
	Missing bool `json:"missing,omitempty"`
}

// Group is a set of near-duplicates: a connected component of the pairs
// within the threshold.
type Group struct {
	// Members, the suggested keeper first when there is one: the present
	// file with the most pixels (stored width x height), then the oldest
	// modification time (read from the file), then the path. Members whose
	// file is missing come last; the rest follow by distance.
	Members []Member `json:"members"`
	// Keeper is the ID of the suggested keeper, Members[0], or "" when no
	// member's file is there any more.
	Keeper string `json:"keeper,omitempty"`
}

// Result is what Find found.
type Result struct {
	// MaxDistance is the threshold, Options.MaxDistance, under Metric,
	// the collection's.
	MaxDistance float32            `json:"max_distance"`
	Metric      vectorstore.Metric `json:"metric"`
	Images      int                `json:"images"`
	// Pairs is the number of pairs within the threshold that were joined;
	// DistinctSkipped those left out because they were marked distinct.
	Pairs           int     `json:"pairs"`
	DistinctSkipped int     `json:"distinct_skipped"`
	Groups          []Group `json:"groups"`
}

// Match is an image of one collection with its near-duplicates in another.
type Match struct {
	ID       string               `json:"id"`
	Metadata vectorstore.Metadata `json:"metadata"`
	// Matches are the near-duplicates in the other collection, nearest
	// first, at most Options.Neighbours.
	Matches []vectorstore.Hit `json:"matches"`
}

// distance is the distance of a and b under metric, as the stores define
// it: Euclidean for L2, 1 - cosine for COSINE (1 when either is zero), the
// negated dot product for IP.
func distance(metric vectorstore.Metric, a, b []float32) float32 {
	var dot, aa, bb float64
	for i, x := range a {
		y := float64(b[i])
		dot += float64(x) * y
		aa += float64(x) * float64(x)
		bb += y * y
	}
	switch metric {
	case vectorstore.MetricCosine:
		if aa == 0 || bb == 0 {
			return 1
		}
		return float32(1 - dot/math.Sqrt(aa*bb))
	case vectorstore.MetricIP:
		return float32(-dot)
	}
	return float32(math.Sqrt(max(aa+bb-2*dot, 0)))
}

// check refuses what no run can use: no options, or a threshold that is
// not a number.
func (o *Options) check() error {
	if o == nil {
		return fmt.Errorf("find duplicates: %w: no options (MaxDistance is required)", vectorstore.ErrInvalid)
	}
	if d := float64(o.MaxDistance); math.IsNaN(d) || math.IsInf(d, 0) {
		return fmt.Errorf("find duplicates: %w: MaxDistance %v", vectorstore.ErrInvalid, o.MaxDistance)
	}
	return nil
}

func (o *Options) neighbours() int {
	if o.Neighbours > 0 {
		return o.Neighbours
	}
	return DefaultNeighbours
}

func (o *Options) workers() int {
	switch {
	case o.Workers > 0:
		return o.Workers
	case o.Method == Index:
		return 8 * runtime.GOMAXPROCS(0)
	}
	return runtime.GOMAXPROCS(0)
}

// edge is a pair within the threshold, by index.
type edge struct {
	a, b int32
	d    float32
}

// collect receives batches from results until it is closed, handing each
// item to take, and meanwhile calls progress, if set, about once a second
// and once at the end with done() images of total done. It is the one
// goroutine that calls take and progress.
func collect[T any](results <-chan []T, take func(T), progress func(Progress), total int, done func() int) {
	start := time.Now()
	report := func() {
		if progress != nil {
			progress(Progress{Total: total, Done: done(), Elapsed: time.Since(start)})
		}
	}
	every := time.NewTicker(time.Second)
	defer every.Stop()
	for {
		select {
		case batch, ok := <-results:
			if !ok {
				report()
				return
			}
			for _, x := range batch {
				take(x)
			}
		case <-every.C:
			report()
		}
	}
}

// Find groups the near-duplicates of coll.
func Find(ctx context.Context, coll vectorstore.Collection, opts *Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	info, err := coll.Info(ctx)
	if err != nil {
		return nil, err
	}
	var n int
	var idOf func(int) string
	res := &Result{MaxDistance: opts.MaxDistance, Metric: info.Metric}
	uf := unionFind{}
	// distinct maps the pairs marked distinct to their indexes once the IDs
	// are known.
	var distinct map[[2]int32]bool
	mapDistinct := func(idx func(string) (int32, bool)) {
		distinct = map[[2]int32]bool{}
		for _, p := range opts.Distinct.sorted() {
			a, okA := idx(p[0])
			b, okB := idx(p[1])
			if okA && okB {
				distinct[orderIdx(a, b)] = true
			}
		}
	}
	take := func(e edge) {
		if distinct[orderIdx(e.a, e.b)] {
			res.DistinctSkipped++
			return
		}
		res.Pairs++
		uf.union(e.a, e.b)
	}
	switch opts.Method {
	case Exact:
		err := readBlocks(ctx, coll, info, func(b vectorstore.Blocks) error {
			// The IDs stay as bytes (32 an image, not 80 as strings).
			ids, err := readIDs(ctx, b)
			if err != nil {
				return fmt.Errorf("read the IDs of %q: %w", info.Name, err)
			}
			n, idOf = len(ids)/32, func(i int) string { return hexID(ids, i) }
			uf.init(n)
			mapDistinct(lookupIDs(ids, opts.Distinct.IDs()))
			return compareBlocks(ctx, b, b, true, info.LearnedDim(), info.Metric, opts, take)
		})
		if err != nil {
			return nil, err
		}
	case Index:
		ids, index, err := scanIDs(ctx, coll)
		if err != nil {
			return nil, err
		}
		n, idOf = len(ids), func(i int) string { return ids[i] }
		uf.init(n)
		idx := func(id string) (int32, bool) {
			i, ok := index[decodeID(id)]
			return i, ok
		}
		mapDistinct(idx)
		// A pair is found from both ends when each is among the other's
		// nearest: count it once. The set holds at most k pairs an image.
		seen := map[[2]int32]bool{}
		err = searchAll(ctx, coll, info, ids, coll, opts, func(q int32, hits []vectorstore.Hit) {
			for _, h := range hits {
				if j, ok := idx(h.ID); ok && j != q && !seen[orderIdx(q, j)] {
					seen[orderIdx(q, j)] = true
					take(edge{q, j, h.Distance})
				}
			}
		})
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("find duplicates: %w: method %d", vectorstore.ErrInvalid, opts.Method)
	}
	res.Images = n
	res.Groups, err = makeGroups(ctx, coll, info, uf.components(idOf))
	return res, err
}

func orderIdx(a, b int32) [2]int32 {
	if b < a {
		a, b = b, a
	}
	return [2]int32{a, b}
}

// makeGroups reads the members of each component from coll and orders them.
// A member's distance is between the images' own vectors, as the exact
// comparison measures it.
func makeGroups(ctx context.Context, coll vectorstore.Collection, info vectorstore.Info, comps [][]string) ([]Group, error) {
	var all []string
	for _, c := range comps {
		all = append(all, c...)
	}
	items, err := getAll(ctx, coll, all, memberChunk)
	if err != nil {
		return nil, err
	}
	groups := make([]Group, 0, len(comps))
	for _, c := range comps {
		type cand struct {
			it      vectorstore.Item
			missing bool
			mtime   time.Time
		}
		cs := make([]cand, 0, len(c))
		for _, id := range c {
			it, ok := items[id]
			if !ok {
				continue // deleted meanwhile
			}
			x := cand{it: it, mtime: it.Metadata.ModTime}
			if st, err := os.Stat(it.Metadata.Path); err != nil || !st.Mode().IsRegular() {
				x.missing = true
			} else {
				x.mtime = st.ModTime()
			}
			cs = append(cs, x)
		}
		if len(cs) < 2 {
			continue
		}
		slices.SortFunc(cs, func(a, b cand) int {
			pa, pb := a.it.Metadata.Width*a.it.Metadata.Height, b.it.Metadata.Width*b.it.Metadata.Height
			if a.missing != b.missing {
				if a.missing {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(pb, pa), a.mtime.Compare(b.mtime),
				strings.Compare(a.it.Metadata.Path, b.it.Metadata.Path), strings.Compare(a.it.ID, b.it.ID))
		})
		g := Group{Members: make([]Member, len(cs))}
		if !cs[0].missing {
			g.Keeper = cs[0].it.ID
		}
		keeper := info.LearnedPart(nil, info.Own(cs[0].it.Vector))
		for i, x := range cs {
			g.Members[i] = Member{ID: x.it.ID, Metadata: x.it.Metadata, Missing: x.missing,
				Distance: distance(info.Metric, keeper, info.LearnedPart(nil, info.Own(x.it.Vector)))}
		}
		rest := g.Members[1:]
		slices.SortStableFunc(rest, func(a, b Member) int {
			if a.Missing != b.Missing {
				if a.Missing {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(a.Distance, b.Distance), strings.Compare(a.Metadata.Path, b.Metadata.Path))
		})
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(len(b.Members), len(a.Members)), strings.Compare(a.Members[0].Metadata.Path, b.Members[0].Metadata.Path))
	})
	return groups, nil
}

// memberChunk is how many of the images found one Get asks for: few
// enough that the pages one Get reads at random from the embedded store's
// files stay a few MB before it releases them. Each read maps the pages
// around it in every column (64 KB each): at 64 items a Get, reading
// groups' members raised the peak RSS at 100,000 images of 192 values from
// 80 MB to 104. The reads are few (only images found), so their number
// does not matter; the index method's, one per neighbour, use searchBatch.
const memberChunk = 8

// getAll fetches the items of ids, keyed by ID, chunk at a time.
func getAll(ctx context.Context, coll vectorstore.Collection, ids []string, chunk int) (map[string]vectorstore.Item, error) {
	out := make(map[string]vectorstore.Item, len(ids))
	for lo := 0; lo < len(ids); lo += chunk {
		got, err := coll.Get(ctx, ids[lo:min(lo+chunk, len(ids))])
		if err != nil {
			return nil, fmt.Errorf("read near-duplicates: %w", err)
		}
		for _, it := range got {
			out[it.ID] = it
		}
	}
	return out, nil
}

// Against finds, for each image of coll, its near-duplicates in other,
// which must hold vectors of the same model under the same metric. Images
// without any are left out; the result is sorted by path.
func Against(ctx context.Context, coll, other vectorstore.Collection, opts *Options) ([]Match, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	info, err := coll.Info(ctx)
	if err != nil {
		return nil, err
	}
	oinfo, err := other.Info(ctx)
	if err != nil {
		return nil, err
	}
	// Both methods compare own vectors, so the vectors an image (variants,
	// or none) may differ.
	if info.Dim != oinfo.Dim || info.Metric != oinfo.Metric || info.ModelVersion != oinfo.ModelVersion || info.Learned != oinfo.Learned {
		return nil, fmt.Errorf("compare %q with %q: %q holds %s vectors of model %s (dim %d, %d learned), %q %s of model %s (dim %d, %d learned): %w",
			info.Name, oinfo.Name, info.Name, info.Metric, info.ModelVersion, info.Dim, info.LearnedDim(), oinfo.Name, oinfo.Metric, oinfo.ModelVersion, oinfo.Dim, oinfo.LearnedDim(), vectorstore.ErrModelMismatch)
	}
	k := opts.neighbours()
	found := map[string][]vectorstore.Hit{} // by ID of coll; hits carry only ID and distance until the end
	switch opts.Method {
	case Exact:
		err := readBlocks(ctx, coll, info, func(q vectorstore.Blocks) error {
			against := func(g vectorstore.Blocks) error {
				qb, err := readIDs(ctx, q)
				if err != nil {
					return err
				}
				gb, err := readIDs(ctx, g)
				if err != nil {
					return err
				}
				qids, gids := hexIDs(qb), hexIDs(gb)
				return compareBlocks(ctx, q, g, false, info.LearnedDim(), info.Metric, opts, func(e edge) {
					id := qids[e.a]
					found[id] = keepNearest(append(found[id], vectorstore.Hit{ID: gids[e.b], Distance: e.d}), k)
				})
			}
			if sameCollection(coll, other) {
				return against(q)
			}
			return readBlocks(ctx, other, oinfo, against)
		})
		if err != nil {
			return nil, fmt.Errorf("compare %q with %q: %w", info.Name, oinfo.Name, err)
		}
	case Index:
		ids, _, err := scanIDs(ctx, coll)
		if err != nil {
			return nil, err
		}
		err = searchAll(ctx, coll, info, ids, other, opts, func(q int32, hits []vectorstore.Hit) {
			if len(hits) > 0 {
				found[ids[q]] = hits
			}
		})
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("find duplicates: %w: method %d", vectorstore.ErrInvalid, opts.Method)
	}
	return describeMatches(ctx, coll, other, found, k)
}

// keepNearest sorts hits nearest first and keeps k, once they pass 2k (so
// that appending one at a time costs little).
func keepNearest(hits []vectorstore.Hit, k int) []vectorstore.Hit {
	if len(hits) <= 2*k {
		return hits
	}
	sortHits(hits)
	return hits[:k]
}

func sortHits(hits []vectorstore.Hit) {
	slices.SortFunc(hits, func(a, b vectorstore.Hit) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), strings.Compare(a.ID, b.ID))
	})
}

// describeMatches fills in the metadata of every image found.
func describeMatches(ctx context.Context, coll, other vectorstore.Collection, found map[string][]vectorstore.Hit, k int) ([]Match, error) {
	qids := make([]string, 0, len(found))
	var gids []string
	for id, hits := range found {
		qids = append(qids, id)
		for _, h := range hits {
			gids = append(gids, h.ID)
		}
	}
	slices.Sort(gids)
	qs, err := getAll(ctx, coll, qids, memberChunk)
	if err != nil {
		return nil, err
	}
	gs, err := getAll(ctx, other, slices.Compact(gids), memberChunk)
	if err != nil {
		return nil, err
	}
	out := make([]Match, 0, len(found))
	for id, hits := range found {
		q, ok := qs[id]
		if !ok {
			continue
		}
		sortHits(hits)
		m := Match{ID: id, Metadata: q.Metadata}
		for _, h := range hits[:min(k, len(hits))] {
			if g, ok := gs[h.ID]; ok {
				h.Metadata = g.Metadata
				m.Matches = append(m.Matches, h)
			}
		}
		if len(m.Matches) > 0 {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Match) int {
		return cmp.Or(strings.Compare(a.Metadata.Path, b.Metadata.Path), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// decodeID turns a hex ID into its 32 bytes; a malformed ID (no store
// holds one) gives zeros.
func decodeID(id string) [32]byte {
	var b [32]byte
	hex.Decode(b[:], []byte(id))
	return b
}
