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
	// augmentedSlots, when above 0, is how many of a batch's first slots
	// are augmented (train.augment_queries_only: the B queries); the
	// others are taken as they are.
	augmentedSlots int
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

// fill writes batch into x. With augment non-nil, every image (or, with
// augmentedSlots, every query) is augmented as augment says for its path,
// with a generator seeded from seed and its slot.
func (f *batchFiller) fill(batch []dataset.Triplet, x []float32, augment func(path string) *imageio.Augment, seed uint64) {
	b := len(batch)
	per := 3 * f.size * f.size
	paths := slotPaths(batch)
	forEach(3*b, f.workers, func(j int) {
		model.ToTensor(f.slotImage(paths[j], augment, seed, j), f.norm, x[j*per:(j+1)*per])
	})
}

// forEach calls f(i) for each i in [0, n) on up to workers goroutines (0:
// one per core), and returns when all calls have.
func forEach(n, workers int, f func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(workers, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// slotImage is the network's input that fill writes for path in slot of
// a batch of seed.
func (f *batchFiller) slotImage(path string, augment func(path string) *imageio.Augment, seed uint64, slot int) *image.RGBA {
	if augment == nil || (f.augmentedSlots > 0 && slot >= f.augmentedSlots) {
		return f.input(f.cache[path])
	}
	return f.augmented(path, augment(path), rand.New(rand.NewPCG(seed, uint64(slot))))
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
// or memory row mined names, where it names one; remembered holds that of
// each memory row (nil without a memory).
func afterMining[T any](slots []T, mined []negative, b int, remembered []T) []T {
	out := slices.Clone(slots)
	for i, n := range mined {
		switch {
		case n.slot >= 0:
			out[2*b+i] = slots[n.slot]
		case n.row >= 0:
			out[2*b+i] = remembered[n.row]
		}
	}
	return out
}

// negative says where mining took a triplet's negative from: slot, a slot
// of the batch, or row, a row of mining's memory; -1 in both where it kept
// the one drawn (nothing of another class was there).
type negative struct{ slot, row int }

// noNegative is the negative of a triplet mining left as it was drawn.
var noNegative = negative{-1, -1}

// chooser picks a query's negative among the candidates offered: "hard"
// takes the closest; "semihard" the closest farther than the positive,
// else the closest.
type chooser struct {
	semiHard bool
	dpos     float32 // the query's squared distance to its positive
	best     negative
	bestD    float32
	semi     negative
	semiD    float32
}

// newChooser starts choosing, by mode, the negative of a query whose
// positive is dpos away (squared).
func newChooser(mode trainconfig.Mining, dpos float32) chooser {
	return chooser{semiHard: mode == trainconfig.SemiHard, dpos: dpos, best: noNegative, semi: noNegative}
}

// offer considers candidate n at squared distance d from the query.
func (c *chooser) offer(n negative, d float32) {
	if c.best == noNegative || d < c.bestD {
		c.best, c.bestD = n, d
	}
	if d > c.dpos && (c.semi == noNegative || d < c.semiD) {
		c.semi, c.semiD = n, d
	}
}

// chosen is the negative chosen among those offered.
func (c *chooser) chosen() negative {
	if c.semiHard && c.semi != noNegative {
		return c.semi
	}
	return c.best
}

// mineNegatives replaces each triplet's negative in x by an image of
// another class, chosen as a chooser does on emb, the batch's embeddings
// (rows of dim): an image of the batch, or with mem (nil for none) a row
// of mining's memory, which view draws into the slot's input (called
// concurrently). labels gives the class of each of the 3b images. It
// returns where each triplet's new negative came from.
func mineNegatives(emb []float32, dim int, x []float32, labels []int, b int, mode trainconfig.Mining, mem *memory, view func(row int, dst []float32), workers int) []negative {
	per := len(x) / (3 * b)
	vec := func(j int) []float32 { return emb[j*dim : (j+1)*dim] }
	chosen := make([]negative, b)
	// The queries choose side by side: a memory of thousands of rows
	// makes this a good part of a step.
	forEach(b, workers, func(i int) {
		c := newChooser(mode, eval.SquaredDistance(vec(i), vec(b+i)))
		for j := range 3 * b {
			if labels[j] != labels[i] {
				c.offer(negative{j, -1}, eval.SquaredDistance(vec(i), vec(j)))
			}
		}
		if mem != nil {
			mem.offer(&c, vec(i), labels[i])
		}
		chosen[i] = c.chosen()
	})
	src := append([]float32(nil), x...)
	for i, n := range chosen {
		if n.slot >= 0 {
			copy(x[(2*b+i)*per:(2*b+i+1)*per], src[n.slot*per:(n.slot+1)*per])
		}
	}
	// The memory's views are augmented side by side, as fill's images are.
	forEach(b, workers, func(i int) {
		if n := chosen[i]; n.row >= 0 {
			view(n.row, x[(2*b+i)*per:(2*b+i+1)*per])
		}
	})
	return chosen
}
