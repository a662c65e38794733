package dupes

import (
	"context"
	"fmt"
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

// searchAll searches other with the vector of every image ids[i] of coll,
// opts.Workers searches at a time, and calls found, from the calling
// goroutine, with i and the hits within opts.MaxDistance (the image itself
// included, when other is coll).
func searchAll(ctx context.Context, coll vectorstore.Collection, info vectorstore.Info, ids []string, other vectorstore.Collection, opts *Options, found func(int32, []vectorstore.Hit)) error {
	type result struct {
		q    int32
		hits []vectorstore.Hit
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	results := make(chan []result, opts.workers())
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
	k := opts.neighbours() + 1 // the image itself comes first
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
				out := make([]result, 0, len(items))
				for _, it := range items {
					hits, err := other.Search(ctx, info.ModelVersion, it.Vector, k, nil)
					if err != nil {
						errs <- fmt.Errorf("search near %s: %w", it.ID, err)
						cancel()
						return
					}
					near := hits[:0]
					for _, h := range hits {
						if h.Distance <= opts.MaxDistance && h.ID != it.ID {
							near = append(near, h)
						}
					}
					out = append(out, result{pos[it.ID], near})
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
	collect(results, func(r result) {
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
