package imageio

import (
	"context"
	"image"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
)

// LoadAll decodes the files of paths (relative to root) on workers
// goroutines (0: GOMAXPROCS) and keeps convert's result for each, keyed by
// path. size is the largest network input the images are for: JPEGs are
// decoded reduced as DecodeFor does (0: full size), and convert gets the
// image with its full size, for SquareReduced. progress, if not nil, is called after every 1000 files. The error is
// ctx's, or the first file that failed (its path named); the map then holds
// what did load.
func LoadAll[T any](ctx context.Context, root string, paths []string, size, workers int, convert func(img image.Image, full image.Rectangle) T, progress func(done int)) (map[string]T, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make(map[string]T, len(paths))
	var mu sync.Mutex
	var done atomic.Int64
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				img, full, err := decodeFileFor(filepath.Join(root, p), size, nil)
				var v T
				if err == nil {
					v = convert(img, full)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					out[p] = v
				}
				mu.Unlock()
				if n := done.Add(1); progress != nil && n%1000 == 0 {
					progress(int(n))
				}
			}
		}()
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		work <- p
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, firstErr
}
