package dupes

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/deeprank/deeprank/vectorstore"
)

// scanIDs lists the IDs of coll, and the index of each by its bytes.
func scanIDs(ctx context.Context, coll vectorstore.Collection) ([]string, map[[32]byte]int32, error) {
	var ids []string
	index := map[[32]byte]int32{}
	err := coll.Scan(ctx, func(it vectorstore.Item) error {
		index[decodeID(it.ID)] = int32(len(ids))
		ids = append(ids, it.ID)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list the images: %w", err)
	}
	return ids, index, nil
}

// searchBatch is how many images a worker reads from the store at once
// before searching with each.
const searchBatch = 64

// learnedSlack is how many times more hits, at least, a search asks for
// where vectors are partly learned (searchQuery).
const learnedSlack = 3

// searchResult is the hits near image q.
type searchResult struct {
	q    int32
	hits []vectorstore.Hit
}

// searchAll searches other with the vector of every image ids[i] of coll,
// opts.Workers searches at a time, and calls found, from the calling
// goroutine, with i and the hits within opts.MaxDistance (the image itself
// included, when other is coll). Where other's images have variants, its
// search meets them at their nearest: it then asks for as many times more
// hits, measures each again between own vectors, as Exact measures it,
// and keeps the nearest opts.Neighbours within the threshold, so that
// images near only through a variant do not take the places of near ones.
// Where vectors are partly learned (vectorstore.Spec.Learned), it searches
// with the learned part (searchQuery) and measures each hit again between
// learned parts.
func searchAll(ctx context.Context, coll vectorstore.Collection, info vectorstore.Info, ids []string, other vectorstore.Collection, opts *Options, found func(int32, []vectorstore.Hit)) error {
	oinfo, err := other.Info(ctx)
	if err != nil {
		return err
	}
	// A store measures whole vectors: with variants it meets an image at
	// its nearest, and with a learned part it counts the rest too.
	remeasure := oinfo.PerItem() > 1 || info.Learned > 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	results := make(chan []searchResult, opts.workers())
	errs := make(chan error, opts.workers())
	go func() {
		defer close(jobs)
		for lo := 0; lo < len(ids); lo += searchBatch {
			select {
			case jobs <- lo:
			case <-ctx.Done():
				return
			}
		}
	}()
	n := opts.neighbours() + 1 // the image itself comes first
	k := n * oinfo.PerItem()
	if info.Learned > 0 {
		// searchQuery ranks by learned parts each scaled by its image's
		// share, which differs a little between images (a nearly flat
		// one's thumbnail has none): room for what that reorders, which
		// variants' room already gives.
		k = max(k, n*learnedSlack)
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	for range opts.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range jobs {
				hi := min(lo+searchBatch, len(ids))
				items, err := coll.Get(ctx, ids[lo:hi])
				if err != nil {
					errs <- fmt.Errorf("read vectors: %w", err)
					cancel()
					return
				}
				pos := make(map[string]int32, hi-lo)
				for i := lo; i < hi; i++ {
					pos[ids[i]] = int32(i)
				}
				out := make([]searchResult, 0, len(items))
				own := make([][]float32, 0, len(items))
				for _, it := range items {
					q := info.LearnedPart(nil, info.Own(it.Vector))
					hits, err := other.Search(ctx, info.ModelVersion, searchQuery(info, q, info.Own(it.Vector), opts.AspectValue), k, nil)
					if err != nil {
						errs <- fmt.Errorf("search near %s: %w", it.ID, err)
						cancel()
						return
					}
					near := hits[:0]
					for _, h := range hits {
						// The store's distance bounds the own vectors' from
						// below with variants, but not with a learned part.
						if (h.Distance <= opts.MaxDistance || info.Learned > 0) && h.ID != it.ID {
							near = append(near, h)
						}
					}
					out = append(out, searchResult{pos[it.ID], near})
					own = append(own, q)
				}
				if remeasure {
					if err := ownDistances(ctx, other, info, own, out, opts.MaxDistance, opts.neighbours()); err != nil {
						errs <- err
						cancel()
						return
					}
				}
				select {
				case results <- out:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	collect(results, func(r searchResult) {
		found(r.q, r.hits)
		done.Add(1)
	}, opts.Progress, len(ids), func() int { return int(done.Load()) })
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// searchQuery is the query that searches for images near learned, the
// learned part of own, an image's own vector: that part with zeros for the
// rest, which ranks a store's vectors by their learned parts, each scaled
// by the share its image's other values left it (nearly the same for every
// image). With an aspect value (Options.AspectValue) it ends with own's, so
// that images of its shape rank by their learned parts alone.
func searchQuery(info vectorstore.Info, learned, own []float32, aspect bool) []float32 {
	if info.Learned == 0 {
		return learned
	}
	q := make([]float32, info.Dim)
	copy(q, learned)
	// Under IP a value scores as a product, not a difference: zero leaves
	// it out.
	if aspect && info.Metric != vectorstore.MetricIP {
		q[info.Dim-1] = own[info.Dim-1]
	}
	return q
}

// ownDistances measures each of out's hits again between the learned part
// of the own vectors (Spec.Own, Spec.LearnedPart) of its image and of the
// image that searched, own[i] for out[i], and keeps the nearest keep within
// maxDistance, with that distance.
func ownDistances(ctx context.Context, other vectorstore.Collection, info vectorstore.Info, own [][]float32, out []searchResult, maxDistance float32, keep int) error {
	var ids []string
	for _, r := range out {
		for _, h := range r.hits {
			ids = append(ids, h.ID)
		}
	}
	items, err := getAll(ctx, other, ids, searchBatch)
	if err != nil {
		return err
	}
	var part []float32
	for i, r := range out {
		kept := r.hits[:0]
		for _, h := range r.hits {
			it, ok := items[h.ID]
			if !ok {
				continue // deleted meanwhile
			}
			part = info.LearnedPart(part, info.Own(it.Vector))
			if h.Distance = distance(info.Metric, own[i], part); h.Distance <= maxDistance {
				kept = append(kept, h)
			}
		}
		slices.SortStableFunc(kept, func(a, b vectorstore.Hit) int { return cmp.Compare(a.Distance, b.Distance) })
		out[i].hits = kept[:min(len(kept), keep)]
	}
	return nil
}
