package trainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// mustClassImages writes a small labelled image folder: each class is a
// hue with noise and a random bright square.
func mustClassImages(t testing.TB, classes, perClass int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 9))
	hues := []color.RGBA{{200, 40, 40, 255}, {40, 200, 40, 255}, {40, 40, 200, 255}, {200, 200, 40, 255}}
	for c := range classes {
		dir := filepath.Join(root, string(rune('a'+c)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			img := image.NewRGBA(image.Rect(0, 0, 20, 20))
			x0, y0 := rng.IntN(12), rng.IntN(12)
			for y := range 20 {
				for x := range 20 {
					h := hues[c%len(hues)]
					n := func(v uint8) uint8 { return uint8(min(255, max(0, int(v)+rng.IntN(61)-30))) }
					px := color.RGBA{n(h.R), n(h.G), n(h.B), 255}
					if x >= x0 && x < x0+6 && y >= y0 && y < y0+6 {
						px = color.RGBA{250, 250, 250, 255}
					}
					img.SetRGBA(x, y, px)
				}
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".png"), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func testOptions(t testing.TB, classes string) trainconfig.Options {
	o := trainconfig.Default()
	o.Model = smallSpec(16)
	o.Data.Classes = classes
	o.Data.ValFraction = 0.3
	o.Epochs = 2
	o.StepsPerEpoch = 4
	o.BatchSize = 4
	o.Mining = trainconfig.SemiHard
	o.Optimizer = trainconfig.Adam
	o.Augment.Crop = 0.2
	o.Augment.ColorJitter = 0.2
	o.Augment.JPEGProbability = 0.5
	o.Augment.JPEGMinQuality = 50
	dir := t.TempDir()
	o.Output = filepath.Join(dir, "model.drk")
	o.RunDir = filepath.Join(dir, "run")
	return o
}

// instanceOptions are testOptions that make every image under root its
// own class (two positives each), holding out 40% of them.
func instanceOptions(t testing.TB, root string) trainconfig.Options {
	o := testOptions(t, "")
	o.Data.Classes = ""
	o.Data.Mix = []trainconfig.ClassSource{{Classes: root, Instances: true, Positives: 2, Negatives: 1}}
	o.Data.SelfPositives = true
	o.Data.SplitBy = "class"
	o.Data.ValFraction = 0.4
	return o
}

// modelWeights returns a model file's weights and metrics, which (unlike
// its creation time) a reproducible run must repeat exactly.
func modelWeights(t testing.TB, path string) []byte {
	t.Helper()
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m.Provenance.Created = ""
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// prepareRun sets up what Train does before its loop: the model, the
// triplet source, the image cache and the training graphs.
func prepareRun(t testing.TB, o trainconfig.Options) *run {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	r := &run{opts: o, log: io.Discard}
	if err := r.setupModel(false); err != nil {
		t.Fatal(err)
	}
	src, err := newSource(o)
	if err != nil {
		t.Fatal(err)
	}
	r.src = src
	cache, err := loadImages(context.Background(), src.root, src.allPaths(o), r.m.Spec, o.Model.InputSize, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.filler = newBatchFiller(cache, r.m.Normalization, r.m.Spec, 0)
	if err := r.buildGraph(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// TestBatchShards checks that a batch split into shards takes the same
// step as the whole batch: the loss and the weight changes agree (up to the
// order of float sums) for every number of shards.
func TestBatchShards(t *testing.T) {
	classes := mustClassImages(t, 3, 8)
	// Plain SGD's first step is the gradient times the rate, so a wrong
	// scale would show (Adam's first step would hide it).
	const lr = 0.01
	step := func(shards int) (loss float64, delta []float32) {
		o := testOptions(t, classes)
		o.Model.Dropout = 0 // the shards draw different masks
		o.BatchSize = 12
		o.BatchShards = shards
		o.Optimizer, o.LearningRate, o.Momentum = trainconfig.SGD, lr, 0
		r := prepareRun(t, o)
		x := r.x
		rng := rand.New(rand.NewPCG(3, 3))
		for i := range x {
			x[i] = rng.Float32()
		}
		var before []float32
		for _, w := range r.weights {
			before = append(before, w...)
		}
		loss, err := r.step(1, 1)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for _, w := range r.weights {
			for _, v := range w {
				delta = append(delta, v-before[i])
				i++
			}
		}
		return loss, delta
	}
	wantLoss, want := step(1)
	var scale float64
	for _, d := range want {
		scale = max(scale, math.Abs(float64(d)))
	}
	if scale == 0 {
		t.Fatal("one step changed no weight")
	}
	// 12 shards hold one triplet each, a case of its own for graphs that
	// slice rows (a one-row slice drops its dimension in gorgonia).
	for _, shards := range []int{2, 3, 4, 12} {
		loss, got := step(shards)
		if math.Abs(loss-wantLoss) > 1e-5*math.Abs(wantLoss) {
			t.Errorf("%d shards: loss %v, want %v", shards, loss, wantLoss)
		}
		var worst float64
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		if worst > 1e-4*scale {
			t.Errorf("%d shards: a weight change differs by %g (largest change %g)", shards, worst, scale)
		}
	}
}

// TestTrainReproducibleAndResumable trains once straight through, then
// again with interruptions at random moments and --resume: both must write
// the very same model, with the triplet loss and with the contrastive loss
// mining a memory, which the checkpoint must carry over.
func TestTrainReproducibleAndResumable(t *testing.T) {
	classes := mustClassImages(t, 3, 8)
	cases := []struct {
		name string
		edit func(o *trainconfig.Options)
	}{
		{"triplet", func(o *trainconfig.Options) {}},
		{"contrastive, mining a memory", func(o *trainconfig.Options) { o.Loss, o.MiningMemory = trainconfig.Contrastive, 20 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			options := func() trainconfig.Options {
				o := testOptions(t, classes)
				// The cosine schedule's factor must follow from the saved
				// epoch and step, or a resumed run would drift from the
				// straight one.
				o.LRSchedule = trainconfig.Cosine
				// Shards run in parallel goroutines: their results must not
				// depend on which finishes first.
				o.BatchShards = 2
				tc.edit(&o)
				return o
			}
			checkResumable(t, options(), options())
		})
	}
}

// checkResumable trains straight once with straight, then again with
// broken (the same options in another run folder), interrupted at random
// moments and resumed, and fails unless both write the same model.
func checkResumable(t *testing.T, straight, broken trainconfig.Options) {
	t.Helper()
	straight.CheckpointEvery = time.Hour
	began := time.Now()
	res, err := Train(context.Background(), straight, io.Discard, Fresh)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 2 || res.Initial.ValPrecision <= 0 {
		t.Fatalf("history %+v, initial %+v", res.History, res.Initial)
	}
	for _, f := range []string{"metrics.csv", "curves.png", "checkpoint.drc"} {
		if _, err := os.Stat(filepath.Join(straight.RunDir, f)); err != nil {
			t.Error(err)
		}
	}
	want := modelWeights(t, straight.Output)

	broken.CheckpointEvery = time.Nanosecond // a checkpoint after every step
	rng := rand.New(rand.NewPCG(5, 5))
	interrupted := 0
	for attempt := 0; ; attempt++ {
		if attempt > 50 {
			t.Fatal("training never finished")
		}
		// Stop somewhere in the run; later attempts get longer so that the
		// test ends however slow the machine (or the race detector) is.
		limit := time.Duration(float64(took) * (0.02 + 0.2*rng.Float64()) * (1 + float64(attempt)/10))
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		_, err := Train(ctx, broken, io.Discard, Resume)
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		// An interruption proves something only if it left a checkpoint
		// for the next attempt to resume from.
		if _, err := os.Stat(filepath.Join(broken.RunDir, "checkpoint.drc")); err == nil {
			interrupted++
		}
	}
	t.Logf("interrupted %d times with a checkpoint to resume from", interrupted)
	if interrupted == 0 {
		t.Fatal("the test proved nothing: no run was interrupted after writing a checkpoint, so none was resumed")
	}
	if !bytes.Equal(modelWeights(t, broken.Output), want) {
		t.Error("an interrupted and resumed run wrote a different model than a straight run")
	}
}

func TestTrainFineTune(t *testing.T) {
	classes := mustClassImages(t, 3, 6)
	o := testOptions(t, classes)
	o.Epochs = 1
	if _, err := Train(context.Background(), o, io.Discard, Fresh); err != nil {
		t.Fatal(err)
	}
	parent, err := model.Load(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	pv, _ := parent.Version()
	ft := testOptions(t, classes)
	ft.Epochs = 1
	ft.InitModel = o.Output
	ft.Model = model.DefaultSpec() // ignored: the fine-tuned model keeps its spec
	res, err := Train(context.Background(), ft, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	if res.Model.Provenance.Parent != pv || res.Model.Spec.InputSize != parent.Spec.InputSize {
		t.Errorf("fine-tuned model: parent %q (want %q), input %d", res.Model.Provenance.Parent, pv, res.Model.Spec.InputSize)
	}
}

func TestTrainErrors(t *testing.T) {
	classes := mustClassImages(t, 2, 4)
	// A triplet file naming a missing image, and one malformed line.
	missing := filepath.Join(t.TempDir(), "missing.txt")
	os.WriteFile(missing, []byte("a/a.png,a/b.png,b/a.png\na/a.png,a/b.png,b/zzz.png\n"), 0o644)
	malformed := filepath.Join(t.TempDir(), "malformed.txt")
	os.WriteFile(malformed, []byte("a/a.png,a/b.png,b/a.png\na/a.png;a/b.png\n"), 0o644)
	notImage := filepath.Join(classes, "a", "text.png")
	cases := []struct {
		name  string
		edit  func(o *trainconfig.Options)
		setup func()
		want  string
	}{
		{"missing image", func(o *trainconfig.Options) {
			o.Data.Classes, o.Data.Root, o.Data.Triplets, o.Mining = "", classes, missing, trainconfig.NoMining
		}, nil, "missing.txt:2: negative image b/zzz.png"},
		{"malformed line", func(o *trainconfig.Options) {
			o.Data.Classes, o.Data.Root, o.Data.Triplets, o.Mining = "", classes, malformed, trainconfig.NoMining
		}, nil, "malformed.txt:2: malformed triplet"},
		{"text file as image", func(o *trainconfig.Options) {}, func() { os.WriteFile(notImage, []byte("not a png"), 0o644) }, "text.png"},
		{"mining without labels", func(o *trainconfig.Options) { o.Data.Classes, o.Data.Triplets = "", missing }, nil, "mining needs class labels"},
		{"zero batch", func(o *trainconfig.Options) { o.BatchSize = 0 }, nil, "batch_size"},
		{"uneven shards", func(o *trainconfig.Options) { o.BatchShards = 3 }, nil, "batch_shards: 3 does not divide batch_size 4"},
		{"bad optimizer", func(o *trainconfig.Options) { o.Optimizer = "rmsprop" }, nil, "optimizer"},
		{"bad schedule", func(o *trainconfig.Options) { o.LRSchedule = "step" }, nil, "lr_schedule"},
		// Before training, not when the kept model is saved with it.
		{"thumbnail of a side the input does not divide", func(o *trainconfig.Options) { o.Thumbnail = model.Thumbnail{Side: 5, Weight: 0.3} }, nil,
			"config: thumbnail: invalid model spec: thumbnail.side: 5:"},
		{"thumbnail too large", func(o *trainconfig.Options) { o.Thumbnail = model.Thumbnail{Side: 64, Weight: 0.3} }, nil,
			"config: thumbnail: invalid model spec: thumbnail.side: 64:"},
		{"thumbnail colour of a side the input does not divide", func(o *trainconfig.Options) { o.Thumbnail = model.Thumbnail{Side: 8, Weight: 0.3, ChromaSide: 5} }, nil,
			"config: thumbnail: invalid model spec: thumbnail.chroma_side: 5:"},
		{"tune_thumbnail colour of a side the input does not divide", func(o *trainconfig.Options) {
			o.ValidationSuite, o.TuneThumbnail = "v.yaml", trainconfig.TuneThumbnail{Side: 8, ChromaSide: 5, Weights: []float64{0.3}}
		}, nil, "config: tune_thumbnail: invalid model spec: thumbnail.chroma_side: 5:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, classes)
			tc.edit(&o)
			if tc.setup != nil {
				tc.setup()
				defer os.Remove(notImage)
			}
			_, err := Train(context.Background(), o, io.Discard, Fresh)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestTrainEarlyStop(t *testing.T) {
	o := testOptions(t, mustClassImages(t, 3, 6))
	o.Epochs = 5
	o.Patience = 1
	o.LearningRate = 1e-12 // nothing changes, so nothing improves
	res, err := Train(context.Background(), o, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 2 || !strings.Contains(res.Stopped, "early stop") {
		t.Fatalf("ran %d epochs, stopped %q; want an early stop after 2", len(res.History), res.Stopped)
	}
}

// TestTrainMix trains on two class folders at once, one of single-image
// classes (their own positives), holding out whole classes.
func TestTrainMix(t *testing.T) {
	pairs := mustClassImages(t, 4, 2)
	singles := mustClassImages(t, 4, 1)
	o := testOptions(t, "")
	o.Data.Classes = ""
	o.Data.Mix = []trainconfig.ClassSource{{Classes: pairs, Positives: 1, Negatives: 1}, {Classes: singles, Positives: 3, Negatives: 1}}
	o.Data.SelfPositives = true
	o.Data.SplitBy = "class"
	o.Data.ValFraction = 0.3
	o.Epochs = 1
	src, err := newSource(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := src.epochTriplets(o, 0)
	self := 0
	for _, tr := range ts {
		if src.labels[tr.Query] != src.labels[tr.Positive] || src.labels[tr.Query] == src.labels[tr.Negative] {
			t.Fatalf("bad triplet %v", tr)
		}
		if tr.Query == tr.Positive {
			self++
		}
	}
	trainSingles := len(src.parts[1].set.Paths)
	if self != 3*trainSingles || len(ts) != len(src.parts[0].set.Paths)+3*trainSingles {
		t.Errorf("%d triplets, %d self-positive; %d training singles", len(ts), self, trainSingles)
	}
	if src.valSet == nil {
		t.Fatal("nothing held out")
	}
	for _, p := range src.valSet.Paths { // held-out classes are not trained on
		for _, part := range src.parts {
			for _, q := range part.set.Paths {
				if filepath.Dir(p) == filepath.Dir(q) {
					t.Fatalf("class of %s is both held out and trained", p)
				}
			}
		}
	}
	if _, err := Train(context.Background(), o, io.Discard, Fresh); err != nil {
		t.Fatal(err)
	}
}

// TestMixAugment checks that a mix entry's own augment replaces
// train.augment for its images, training and held out, and that batches
// are filled with it.
func TestMixAugment(t *testing.T) {
	pairs := mustClassImages(t, 4, 2)
	singles := mustClassImages(t, 4, 1)
	o := testOptions(t, "")
	o.Data.Classes = ""
	o.Augment = imageio.Augment{Grayscale: 1}
	mild := &imageio.Augment{} // changes nothing
	o.Data.Mix = []trainconfig.ClassSource{{Classes: pairs, Positives: 1, Negatives: 1}, {Classes: singles, Positives: 1, Negatives: 1, Augment: mild}}
	o.Data.SelfPositives = true
	o.Data.SplitBy = "class"
	o.Data.ValFraction = 0.3
	src, err := newSource(o)
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range []*imageio.Augment{&o.Augment, mild} {
		for _, p := range src.parts[part].set.Paths {
			if got := src.augmentFor(p, &o.Augment); got != want {
				t.Errorf("augmentFor(%s) = %+v, want %+v", p, got, want)
			}
		}
	}
	heldSingles := 0
	for _, p := range src.valSet.Paths {
		if src.augmentFor(p, &o.Augment) == mild {
			heldSingles++
		}
	}
	if heldSingles == 0 {
		t.Errorf("no held-out image of %s has its entry's augment", singles)
	}

	// A batch of one triplet: a coloured query under train.augment (all
	// grey) and under the entry's own (unchanged).
	red := image.NewRGBA(image.Rect(0, 0, 4, 4))
	draw.Draw(red, red.Rect, image.NewUniform(color.RGBA{200, 30, 30, 255}), image.Point{}, draw.Src)
	f := newBatchFiller(imageCache{"grey": red, "kept": red}, model.UnitNormalization(), model.Spec{InputSize: 4}, 2)
	byPath := func(p string) *imageio.Augment {
		if p == "kept" {
			return mild
		}
		return &o.Augment
	}
	x := make([]float32, 3*3*4*4)
	f.fill([]dataset.Triplet{{Query: "grey", Positive: "kept", Negative: "kept"}}, x, byPath, 1)
	plane := 4 * 4
	for slot, wantGrey := range []bool{true, false} {
		img := x[slot*3*plane:]
		grey := img[0] == img[plane] && img[plane] == img[2*plane]
		if grey != wantGrey {
			t.Errorf("slot %d: channels %g %g %g, grey = %v, want %v", slot, img[0], img[plane], img[2*plane], grey, wantGrey)
		}
	}
}

// TestFillAugmentedSlots checks that with augmentedSlots (train.
// augment_queries_only) a batch's queries are augmented and its positives
// and negatives are not, and that without it all three are.
func TestFillAugmentedSlots(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 4, 4))
	draw.Draw(red, red.Rect, image.NewUniform(color.RGBA{200, 30, 30, 255}), image.Point{}, draw.Src)
	grey := func(string) *imageio.Augment { return &imageio.Augment{Grayscale: 1} }
	batch := []dataset.Triplet{{Query: "a", Positive: "a", Negative: "b"}, {Query: "b", Positive: "b", Negative: "a"}}
	cases := []struct {
		name     string
		slots    int
		wantGrey []bool // each of the 3B slots: queries, positives, negatives
	}{
		{"all augmented", 0, []bool{true, true, true, true, true, true}},
		{"queries only", len(batch), []bool{true, true, false, false, false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newBatchFiller(imageCache{"a": red, "b": red}, model.UnitNormalization(), model.Spec{InputSize: 4}, 2)
			f.augmentedSlots = c.slots
			const plane = 4 * 4
			x := make([]float32, len(c.wantGrey)*3*plane)
			f.fill(batch, x, grey, 1)
			for slot, want := range c.wantGrey {
				img := x[slot*3*plane:]
				if got := img[0] == img[plane] && img[plane] == img[2*plane]; got != want {
					t.Errorf("slot %d: channels %g %g %g, grey = %v, want %v", slot, img[0], img[plane], img[2*plane], got, want)
				}
			}
		})
	}
}

func TestBetter(t *testing.T) {
	base := EpochMetrics{ValPrecision: 0.9, ValRecall1: 0.5, ValLoss: 0.2, SuiteMean: 0.3}
	cases := []struct {
		selectBy string
		m        EpochMetrics
		want     bool
	}{
		{"precision", EpochMetrics{ValPrecision: 0.91, ValRecall1: 0.1, ValLoss: 0.9}, true},
		{"precision", EpochMetrics{ValPrecision: 0.9, ValRecall1: 0.9, ValLoss: 0.1}, false},
		{"recall1", EpochMetrics{ValPrecision: 0.1, ValRecall1: 0.51, ValLoss: 0.9}, true},
		{"recall1", EpochMetrics{ValPrecision: 0.99, ValRecall1: 0.5, ValLoss: 0.1}, false},
		{"loss", EpochMetrics{ValPrecision: 0.1, ValRecall1: 0.1, ValLoss: 0.19}, true},
		{"loss", EpochMetrics{ValPrecision: 0.99, ValRecall1: 0.9, ValLoss: 0.2}, false},
		{"suite", EpochMetrics{ValPrecision: 0.1, SuiteMean: 0.31}, true},
		{"suite", EpochMetrics{ValPrecision: 0.99, ValRecall1: 0.9, SuiteMean: 0.3}, false},
	}
	for _, tc := range cases {
		if got := better(tc.selectBy, tc.m, base); got != tc.want {
			t.Errorf("better(%s, %+v) = %v, want %v", tc.selectBy, tc.m, got, tc.want)
		}
	}
}

func TestLRScale(t *testing.T) {
	cases := []struct {
		schedule trainconfig.Schedule
		progress float64
		want     float64
	}{
		{"constant", 0, 1},
		{"constant", 0.9, 1},
		{"cosine", 0, 1},
		{"cosine", 0.5, 0.5},
		{"cosine", 1, 0},
	}
	for _, tc := range cases {
		if got := lrScale(tc.schedule, tc.progress); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("lrScale(%q, %g) = %g, want %g", tc.schedule, tc.progress, got, tc.want)
		}
	}
}

// TestTrainStart checks what each Start does with a checkpoint left in the
// run folder: Fresh refuses and leaves it, Restart deletes it and trains,
// Resume reads it. The checkpoint is garbage, so that a run which read it
// would fail (the Resume case proves it does).
func TestTrainStart(t *testing.T) {
	classes := mustClassImages(t, 3, 4)
	garbage := []byte("not a checkpoint")
	cases := []struct {
		name       string
		start      Start
		checkpoint bool   // put garbage in the run folder's checkpoint first
		wantErr    error  // errors.Is; nil with wantText "" for success
		wantText   string // in the error
	}{
		{"fresh in an empty folder", Fresh, false, nil, ""},
		{"fresh over a checkpoint", Fresh, true, ErrCheckpointExists, "checkpoint.drc"},
		{"restart over a checkpoint", Restart, true, nil, ""},
		{"restart in an empty folder", Restart, false, nil, ""},
		{"resume reads the checkpoint", Resume, true, nil, "checkpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, classes)
			o.Epochs, o.StepsPerEpoch = 1, 1
			path := filepath.Join(o.RunDir, "checkpoint.drc")
			if tc.checkpoint {
				if err := os.MkdirAll(o.RunDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, garbage, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Train(context.Background(), o, io.Discard, tc.start)
			if tc.wantErr == nil && tc.wantText == "" {
				if err != nil {
					t.Fatal(err)
				}
				// The run wrote its own checkpoint in place of the garbage.
				if _, _, err := loadCheckpoint(path); err != nil {
					t.Fatalf("after the run: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantText) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.wantText)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
				t.Error("a refused run changed the checkpoint")
			}
		})
	}
}

// TestTrainSameVersion trains twice with the same seed, data and config,
// in different seconds: the model files differ in their creation time, and
// must still have one version.
func TestTrainSameVersion(t *testing.T) {
	classes := mustClassImages(t, 3, 4)
	var versions, created []string
	for range 2 {
		o := testOptions(t, classes)
		o.Epochs, o.StepsPerEpoch = 1, 2
		// The creation time has a resolution of a second: start each run
		// in a second of its own.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		res, err := Train(context.Background(), o, io.Discard, Fresh)
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.Load(o.Output)
		if err != nil {
			t.Fatal(err)
		}
		v, err := m.Version()
		if err != nil || v != res.Version {
			t.Fatalf("the file's version %s (%v), Train said %s", v, err, res.Version)
		}
		versions, created = append(versions, v), append(created, m.Provenance.Created)
	}
	if created[0] == created[1] {
		t.Fatalf("the test proved nothing: both models were created at %s", created[0])
	}
	if versions[0] != versions[1] {
		t.Errorf("identical runs gave versions %s and %s (created %s and %s)", versions[0], versions[1], created[0], created[1])
	}
}

// TestTrainInstances trains self-supervised on a folder tree in which every
// image is its own class, held at twice the input size for augmentation,
// warm-started from a model of another spec.
func TestTrainInstances(t *testing.T) {
	// Eight single images in two nested folders.
	root := mustClassImages(t, 2, 4)
	first := testOptions(t, root)
	first.Epochs = 1
	if _, err := Train(context.Background(), first, io.Discard, Fresh); err != nil {
		t.Fatal(err)
	}
	o := instanceOptions(t, root)
	o.AugmentSize = 2 * o.Model.InputSize
	o.Augment.Grayscale = 0.3
	o.Augment.Skip = 0.5
	o.Model.Shallow[0].Pooled = true
	o.InitWeights = first.Output
	o.SelectBy = "recall1"
	var log bytes.Buffer
	res, err := Train(context.Background(), o, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"8 instances", "at 32x32", "init_weights " + first.Output, "1 random (embedding.w)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	// Recall@1 of the held-out copies is measured, not "n/a".
	if r := res.History[0].ValRecall1; r < 0 || r > 1 {
		t.Errorf("held-out copy recall@1 = %g, want a value in [0, 1]", r)
	}
}

// newModel is a model of spec with the random weights of seed, and, when
// save, the file it was saved to.
func newModel(t testing.TB, spec model.Spec, seed uint64, save bool) (*model.Model, string) {
	t.Helper()
	m, err := model.New(spec, model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(seed)
	if !save {
		return m, ""
	}
	path := filepath.Join(t.TempDir(), "model.drk")
	if _, err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return m, path
}

// TestWarmStart checks that the weights a new spec shares with a model
// file (same name and shape) are copied and the others keep their start.
func TestWarmStart(t *testing.T) {
	from, path := newModel(t, smallSpec(16), 1, true)
	spec := smallSpec(16)
	spec.EmbeddingDim++ // the head's weights change size
	to, _ := newModel(t, spec, 2, false)
	before := slices.Clone(to.Weights["embedding.w"])
	if err := warmStart(to, path, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, w := range to.Weights {
		switch {
		case name == "embedding.w" || name == "embedding.b":
			if name == "embedding.w" && !slices.Equal(w, before) {
				t.Errorf("%s changed though its size differs", name)
			}
		case !slices.Equal(w, from.Weights[name]):
			t.Errorf("%s was not taken from the model file", name)
		}
	}
	// Twice the width and half the dense layers: convnet.fc1.w keeps its
	// 128 values but is (16, 8) instead of (8, 16), so it is not taken.
	spec = smallSpec(16)
	spec.Width *= 2
	spec.DenseDim /= 2
	reshaped, _ := newModel(t, spec, 2, false)
	fc1 := slices.Clone(reshaped.Weights["convnet.fc1.w"])
	if len(fc1) != len(from.Weights["convnet.fc1.w"]) {
		t.Fatalf("convnet.fc1.w has %d values, the model file's %d: the case needs equal sizes", len(fc1), len(from.Weights["convnet.fc1.w"]))
	}
	if err := warmStart(reshaped, path, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reshaped.Weights["convnet.fc1.w"], fc1) {
		t.Error("convnet.fc1.w was taken from the model file though its shape differs")
	}
	if err := warmStart(to, filepath.Join(t.TempDir(), "none.drk"), io.Discard); err == nil || !strings.Contains(err.Error(), "init_weights") {
		t.Errorf("missing file: err = %v, want one naming init_weights", err)
	}
}

// TestWarmStartGrowsHead checks that a spec adding branches (a pooled
// shallow branch and a colour branch) to a model file's starts out
// embedding every image as the file's model does, and that a spec whose
// head also changed elsewhere is not grown.
func TestWarmStartGrowsHead(t *testing.T) {
	from, path := newModel(t, smallSpec(16), 1, true)
	grown := smallSpec(16)
	pooled := grown.Shallow[0]
	pooled.Pooled = true
	grown.Shallow = append(grown.Shallow, pooled)
	grown.ColorFeatures = 5
	to, _ := newModel(t, grown, 2, false)
	var log bytes.Buffer
	if err := warmStart(to, path, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "embedding.w grown") || !strings.Contains(log.String(), "(shallow3 color) zero") {
		t.Errorf("log does not say the head grew, muting shallow3 and color:\n%s", log.String())
	}
	x := randomInput(rand.New(rand.NewPCG(3, 3)), 5*3*16*16)
	embed := func(m *model.Model) []float32 {
		net, err := model.NewNet(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		return net.Forward(x, 5)
	}
	want, got := embed(from), embed(to)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("value %d of the grown model's embeddings is %g, the file's model's %g", i, got[i], want[i])
		}
	}

	// A wider embedding as well: the head's output changed, so its
	// weights stay random.
	wider := grown
	wider.EmbeddingDim++
	other, _ := newModel(t, wider, 2, false)
	before := slices.Clone(other.Weights["embedding.w"])
	log.Reset()
	if err := warmStart(other, path, &log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "grown") || !slices.Equal(other.Weights["embedding.w"], before) {
		t.Errorf("a head whose output changed was grown:\n%s", log.String())
	}
}

// TestTrainFreeze grows a model by a pooled branch, freezes every old
// branch and trains with weight decay: the old branches' weights and head
// rows must come out bit for bit as they went in, and the new branch's rows
// must have moved from zero.
func TestTrainFreeze(t *testing.T) {
	classes := mustClassImages(t, 3, 4)
	base, path := newModel(t, smallSpec(16), 1, true)
	o := testOptions(t, classes)
	pooled := o.Model.Shallow[0]
	pooled.Pooled = true
	o.Model.Shallow = append(o.Model.Shallow, pooled)
	o.InitWeights = path
	o.WeightDecay = 0.01 // moves every weight whose gradient is zero
	o.Freeze = []string{"convnet", "shallow1", "shallow2"}
	var log bytes.Buffer
	if _, err := Train(context.Background(), o, &log, Fresh); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "frozen: convnet shallow1 shallow2") {
		t.Errorf("log does not list the frozen branches:\n%s", log.String())
	}
	m, err := model.Load(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range base.Weights {
		if strings.HasPrefix(name, "embedding.") {
			continue
		}
		if !slices.Equal(m.Weights[name], w) {
			t.Errorf("frozen %s changed", name)
		}
	}
	// The old branches come first in the head's input: its first rows.
	old := base.Weights["embedding.w"]
	head := m.Weights["embedding.w"]
	if !slices.Equal(head[:len(old)], old) {
		t.Error("the frozen branches' rows of embedding.w changed")
	}
	if !slices.ContainsFunc(head[len(old):], func(v float32) bool { return v != 0 }) {
		t.Error("the new branch's rows of embedding.w are still zero: it was not trained")
	}

	o.Freeze = []string{"convnet", "deep"}
	o.RunDir = filepath.Join(t.TempDir(), "run")
	_, err = Train(context.Background(), o, io.Discard, Fresh)
	if want := `config: freeze: the model has no branch "deep"; its branches are convnet, shallow1, shallow2, shallow3`; err == nil || err.Error() != want {
		t.Errorf("Train with an unknown branch: %v, want %q", err, want)
	}
}

// testSuite writes a validation suite of two sets: the class folders under
// root, each image against the others, and those under other queried
// against root's. It returns the suite's path.
func testSuite(t testing.TB, root, other string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "validation.yaml")
	yaml := fmt.Sprintf("sets:\n  - name: leave one out\n    classes: %s\n  - name: queries\n    queries: %s\n    gallery: %s\n", root, other, root)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTrainValidationSuite checks that a run scores its validation suite
// before training and after each epoch, keeps the epoch of the best mean,
// and scores it as `deeprank eval` does: the kept model's Recall@1 on each
// set, measured by eval.Run, is what the run recorded.
func TestTrainValidationSuite(t *testing.T) {
	root := mustClassImages(t, 3, 4)
	other := mustClassImages(t, 3, 2)
	suitePath := testSuite(t, root, other)
	o := testOptions(t, root)
	o.ValidationSuite = suitePath
	o.SelectBy = "suite"
	var log bytes.Buffer
	res, err := Train(context.Background(), o, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"validation suite " + suitePath + ": 2 sets, 18 images", "validation suite: mean recall@1", "  leave one out\n", "  queries\n"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	best := res.Initial
	for _, m := range append([]EpochMetrics{res.Initial}, res.History...) {
		if len(m.Suite) != 2 || m.SuiteMean != (m.Suite[0]+m.Suite[1])/2 {
			t.Fatalf("epoch %d: suite %v, mean %g; want two scores and their mean", m.Epoch, m.Suite, m.SuiteMean)
		}
		if m.Epoch > 0 && (best.Epoch == 0 || m.SuiteMean > best.SuiteMean) {
			best = m
		}
	}
	if res.Best.Epoch != best.Epoch {
		t.Errorf("kept epoch %d, but epoch %d has the best suite mean (%+v)", res.Best.Epoch, best.Epoch, res.History)
	}
	suite := eval.Suite{Sets: []eval.SetSpec{{Classes: root}, {Queries: other, Gallery: root}}}
	for i, spec := range suite.Sets {
		set, err := spec.Build(0)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := eval.Run(context.Background(), set, eval.Options{Models: []eval.NamedModel{{Name: "kept", Model: res.Model}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Results[0].Retrieval.Recall[1]; got != res.Best.Suite[i] {
			t.Errorf("set %d: eval.Run gives Recall@1 %g, the run recorded %g", i, got, res.Best.Suite[i])
		}
	}
	csv, err := os.ReadFile(filepath.Join(o.RunDir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(csv), "suite_mean_recall1") {
		t.Errorf("metrics.csv lacks the suite's column:\n%s", csv)
	}
}

// TestTrainDistill checks that distillation pulls the trained model's
// embeddings towards the teacher's: after the same steps from the same
// start, the images' embeddings lie closer to the teacher's with the pull
// than without it, and closer than at the start. A teacher whose embedding
// has another size is refused, naming distill.model.
func TestTrainDistill(t *testing.T) {
	classes := mustClassImages(t, 3, 6)
	_, teacherPath := newModel(t, smallSpec(16), 7, true)
	// distance is the mean squared distance between m's and the teacher's
	// embeddings of every training image.
	distance := func(m *model.Model) float64 {
		o := testOptions(t, classes)
		r := prepareRun(t, o)
		tc, err := newTeacher(teacherPath, o.Model.EmbeddingDim, r.filler.cache, 1)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for p := range r.filler.cache {
			paths = append(paths, p)
		}
		want := make([]float32, len(paths)*o.Model.EmbeddingDim)
		tc.targets(paths, want)
		net, err := model.NewNet(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		per := 3 * o.Model.InputSize * o.Model.InputSize
		x := make([]float32, len(paths)*per)
		for i, p := range paths {
			model.ToTensor(r.filler.input(r.filler.cache[p]), m.Normalization, x[i*per:(i+1)*per])
		}
		return float64(eval.SquaredDistance(net.Forward(x, len(paths)), want)) / float64(len(paths))
	}
	train := func(weight float64) *model.Model {
		o := testOptions(t, classes)
		o.Epochs, o.StepsPerEpoch = 3, 6
		if weight > 0 {
			o.Distill = trainconfig.Distill{Model: teacherPath, Weight: weight}
		}
		var log bytes.Buffer
		res, err := Train(context.Background(), o, &log, Fresh)
		if err != nil {
			t.Fatal(err)
		}
		if weight > 0 && !strings.Contains(log.String(), "distilling "+teacherPath) {
			t.Errorf("log does not say it distils:\n%s", log.String())
		}
		return res.Model
	}
	start, _ := newModel(t, smallSpec(16), testOptions(t, classes).Seed, false)
	initial, plain, pulled := distance(start), distance(train(0)), distance(train(10))
	t.Logf("mean squared distance to the teacher: start %.4f, without the pull %.4f, with it %.4f", initial, plain, pulled)
	// A run without the term stays about as far as it started (some 2:
	// unrelated unit vectors); 18 small steps with it close a good part of that.
	if !(pulled < 0.75*plain && pulled < 0.75*initial) {
		t.Errorf("with the pull the embeddings are %.4f from the teacher's, without %.4f, at the start %.4f; want under three quarters of both", pulled, plain, initial)
	}

	wide := smallSpec(16)
	wide.EmbeddingDim++
	_, otherPath := newModel(t, wide, 1, true)
	o := testOptions(t, classes)
	o.Distill = trainconfig.Distill{Model: otherPath, Weight: 1}
	if _, err := Train(context.Background(), o, io.Discard, Fresh); err == nil || !strings.Contains(err.Error(), "distill.model "+otherPath) || !strings.Contains(err.Error(), "dimensions") {
		t.Errorf("teacher of another size: err = %v, want one naming distill.model and the dimensions", err)
	}
}

func TestAfterMining(t *testing.T) {
	batch := []dataset.Triplet{{Query: "q0", Positive: "p0", Negative: "n0"}, {Query: "q1", Positive: "p1", Negative: "n1"}}
	labels := []int{10, 11, 10, 11, 12, 13}
	// A memory of two rows.
	memPaths, memLabels := []string{"m0", "m1"}, []int{20, 21}
	none := negative{-1, -1}
	slot := func(j int) negative { return negative{j, -1} }
	row := func(r int) negative { return negative{-1, r} }
	cases := []struct {
		name       string
		mined      []negative
		want       []string
		wantLabels []int
	}{
		{"no mining", nil, []string{"q0", "q1", "p0", "p1", "n0", "n1"}, []int{10, 11, 10, 11, 12, 13}},
		{"both mined", []negative{slot(3), slot(0)}, []string{"q0", "q1", "p0", "p1", "p1", "q0"}, []int{10, 11, 10, 11, 11, 10}},
		// The slots are read as they were before mining: the second
		// negative takes the first negative's old image, not its new one.
		{"from a negative slot, and none found", []negative{slot(5), none}, []string{"q0", "q1", "p0", "p1", "n1", "n1"}, []int{10, 11, 10, 11, 13, 13}},
		{"from a mined slot", []negative{slot(1), slot(4)}, []string{"q0", "q1", "p0", "p1", "q1", "n0"}, []int{10, 11, 10, 11, 11, 12}},
		{"from the memory", []negative{row(1), slot(0)}, []string{"q0", "q1", "p0", "p1", "m1", "q0"}, []int{10, 11, 10, 11, 21, 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := afterMining(slotPaths(batch), tc.mined, len(batch), memPaths); !slices.Equal(got, tc.want) {
				t.Errorf("paths after mining = %v, want %v", got, tc.want)
			}
			if got := afterMining(labels, tc.mined, len(batch), memLabels); !slices.Equal(got, tc.wantLabels) {
				t.Errorf("labels after mining = %v, want %v", got, tc.wantLabels)
			}
		})
	}
}
