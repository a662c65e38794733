package trainer

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"image"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/trainer/trainconfig"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
)

// imageCache holds every image a run needs, decoded once and resized to the
// side it is augmented at (the network input, or augment_size). Memory:
// 4*size*size bytes per distinct image.
type imageCache map[string]*image.RGBA

// loadImages decodes paths (relative to root) in parallel, resized to size
// pixels a side: trimmed of their plain borders (found at twice size)
// when spec trims them, as inference frames them. progress, if not nil,
// is called now and then with the count done.
func loadImages(ctx context.Context, root string, paths []string, spec model.Spec, size, workers int, progress func(done int)) (imageCache, error) {
	square := func(img image.Image, full image.Rectangle) *image.RGBA { return imageio.SquareReduced(img, full, size) }
	if spec.TrimBorders {
		square = func(img image.Image, full image.Rectangle) *image.RGBA {
			return imageio.TrimSquare(imageio.SquareReduced(img, full, 2*size), size)
		}
	}
	cache, err := imageio.LoadAll(ctx, root, paths, size, workers, square, progress)
	if err != nil {
		return nil, fmt.Errorf("load training image: %w", err)
	}
	return cache, nil
}

// distinctPaths lists each image of the triplets once, in first-seen order.
func distinctPaths(sets ...[]dataset.Triplet) []string {
	seen := map[string]bool{}
	var out []string
	for _, ts := range sets {
		for _, t := range ts {
			for _, p := range [3]string{t.Query, t.Positive, t.Negative} {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// seedFor derives a reproducible seed from the run seed and indices, so the
// same step gets the same augmentations however the work is scheduled and
// whether or not the run was resumed.
func seedFor(seed uint64, parts ...int) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, p := range parts {
		binary.LittleEndian.PutUint64(b[:], uint64(p))
		h.Write(b[:])
	}
	return h.Sum64()
}

// batchFiller writes batches of triplets into the network's input layout:
// the B queries, then the B positives, then the B negatives.
type batchFiller struct {
	cache   imageCache
	norm    model.Normalization
	spec    model.Spec // the network's; cached images may be larger than its input
	size    int        // the network's input side
	workers int
}

// input returns img as the network's input, framed as inference frames
// it (embedder.Prepare): an augmented view is trimmed as a user's copy
// would be.
func (f *batchFiller) input(img *image.RGBA) *image.RGBA {
	return embedder.Prepare(f.spec, img)
}

// augmented returns the cached image at path, augmented with rng, at the
// network's input size.
func (f *batchFiller) augmented(path string, aug *imageio.Augment, rng *rand.Rand) *image.RGBA {
	return f.input(aug.Apply(f.cache[path], rng))
}

func newBatchFiller(cache imageCache, norm model.Normalization, spec model.Spec, workers int) *batchFiller {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &batchFiller{cache: cache, norm: norm, spec: spec, size: spec.InputSize, workers: workers}
}

// fill writes batch into x. With augment non-nil, every image is augmented
// as augment says for its path, with a generator seeded from seed and its
// slot.
func (f *batchFiller) fill(batch []dataset.Triplet, x []float32, augment func(path string) *imageio.Augment, seed uint64) {
	b := len(batch)
	per := 3 * f.size * f.size
	paths := slotPaths(batch)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(f.workers, 3*b) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1) - 1)
				if j >= 3*b {
					return
				}
				path := paths[j]
				var img *image.RGBA
				if augment != nil {
					img = f.augmented(path, augment(path), rand.New(rand.NewPCG(seed, uint64(j))))
				} else {
					img = f.input(f.cache[path])
				}
				model.ToTensor(img, f.norm, x[j*per:(j+1)*per])
			}
		}()
	}
	wg.Wait()
}

// slotPaths lists the image of each of a batch's 3B slots, in the layout
// fill writes: the B queries, then the B positives, then the B negatives.
func slotPaths(batch []dataset.Triplet) []string {
	b := len(batch)
	paths := make([]string, 3*b)
	for i, t := range batch {
		paths[i], paths[b+i], paths[2*b+i] = t.Query, t.Positive, t.Negative
	}
	return paths
}

// afterMining returns slots, something of each of a batch's 3b images in
// the layout fill writes (its path, its class), as it is after
// mineNegatives returned mined: each negative slot holds that of the slot
// mined names, where it names one.
func afterMining[T any](slots []T, mined []int, b int) []T {
	out := slices.Clone(slots)
	for i, j := range mined {
		if j >= 0 {
			out[2*b+i] = slots[j]
		}
	}
	return out
}

// mineNegatives replaces each triplet's negative in x by an image of the
// batch from another class, chosen on the current embeddings: "hard" takes
// the closest; "semihard" the closest that is farther than the positive,
// else the closest. labels gives the class of each of the 3B images. It
// returns, for each triplet, the slot its new negative was copied from (-1
// where none was: the batch held no other class).
func mineNegatives(net *model.Net, x []float32, labels []int, b int, mode trainconfig.Mining) []int {
	emb := net.Forward(x, 3*b)
	dim := net.Dim()
	per := len(x) / (3 * b)
	vec := func(j int) []float32 { return emb[j*dim : (j+1)*dim] }
	chosen := make([]int, b)
	for i := range b {
		dpos := eval.SquaredDistance(vec(i), vec(b+i))
		best, bestD := -1, float32(0)
		semi, semiD := -1, float32(0)
		for j := range 3 * b {
			if labels[j] == labels[i] {
				continue
			}
			d := eval.SquaredDistance(vec(i), vec(j))
			if best < 0 || d < bestD {
				best, bestD = j, d
			}
			if d > dpos && (semi < 0 || d < semiD) {
				semi, semiD = j, d
			}
		}
		if mode == trainconfig.SemiHard && semi >= 0 {
			best = semi
		}
		chosen[i] = best
	}
	src := append([]float32(nil), x...)
	for i, j := range chosen {
		if j >= 0 {
			copy(x[(2*b+i)*per:(2*b+i+1)*per], src[j*per:(j+1)*per])
		}
	}
	return chosen
}
