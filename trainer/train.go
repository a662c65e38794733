package trainer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// EpochMetrics is one row of the training curves.
type EpochMetrics struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	ValLoss   float64 `json:"val_loss"`
	// ValPrecision is the paper's similarity precision on held-out
	// triplets.
	ValPrecision float64 `json:"val_precision"`
	// ValRecall1 is Recall@1 among held-out images (class labels only;
	// -1 without labels).
	ValRecall1 float64 `json:"val_recall1"`
	// Suite is the Recall@1 of each set of Options.ValidationSuite, in
	// its order, and SuiteMean their mean (-1 without a suite).
	Suite          []float64 `json:"suite_recall1,omitempty"`
	SuiteMean      float64   `json:"suite_mean"`
	TripletsPerSec float64   `json:"triplets_per_sec"`
	Seconds        float64   `json:"seconds"`
}

// Result is what a training run produced.
type Result struct {
	// Model is the best model (by held-out precision), also written to
	// Options.Output.
	Model   *model.Model
	Version string
	// Initial holds the held-out metrics of the model before training.
	Initial EpochMetrics
	Best    EpochMetrics
	History []EpochMetrics
	// Stopped says why training ended before Options.Epochs, if it did.
	Stopped string
}

// run is the state of one training run.
type run struct {
	opts   trainconfig.Options
	log    io.Writer
	m      *model.Model
	net    *model.Net
	arch   model.Arch
	src    *source
	filler *batchFiller
	suite  *eval.Tracker // nil without Options.ValidationSuite

	shards []*shard
	// x is the whole batch: b queries, then b positives, then b negatives.
	x []float32
	// teacher and target, with Options.Distill, are the teacher model and
	// its embedding of each of the batch's images unchanged, in x's order.
	teacher *teacher
	target  []float32
	// labels, with the contrastive loss, is the class of each of the
	// batch's images, in x's order, after mining.
	labels []int
	// frozen, with Options.Freeze, holds the weights each step writes back.
	frozen   *frozen
	names    []string
	weights  [][]float32
	opt      *optimizer
	state    checkpointState
	lastSave time.Time
}

// Start says what Train does with a checkpoint left in the run folder by an
// earlier run.
type Start int

const (
	// Fresh starts from the options, and refuses with ErrCheckpointExists
	// when the run folder holds a checkpoint: the run would overwrite it,
	// losing the earlier run, which was likely meant to be resumed.
	Fresh Start = iota
	// Resume continues from the checkpoint, or starts from the options
	// when there is none.
	Resume
	// Restart starts from the options and deletes the checkpoint first, so
	// that a later Resume cannot pick up the abandoned run.
	Restart
)

// ErrCheckpointExists is returned (wrapped, with the checkpoint's path) by
// a Fresh Train when the run folder holds a checkpoint.
var ErrCheckpointExists = errors.New("the run folder holds a checkpoint of an earlier run")

// Train trains a model as opts say, writing progress lines to log; start
// says what to do with a checkpoint in opts.RunDir. Cancelling ctx writes
// a checkpoint and returns ctx's error.
func Train(ctx context.Context, opts trainconfig.Options, log io.Writer, start Start) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if err := os.MkdirAll(opts.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	r := &run{opts: opts, log: log}
	if err := r.checkStart(start); err != nil {
		return nil, err
	}
	if err := r.setupModel(start == Resume); err != nil {
		return nil, err
	}
	src, err := newSource(opts)
	if err != nil {
		return nil, err
	}
	r.src = src
	fmt.Fprintf(log, "data: %s\n", src.describe())
	fmt.Fprintf(log, "matrix products: %s\n", model.BLAS())
	if opts.Loss == trainconfig.Contrastive {
		fmt.Fprintf(log, "loss: contrastive at temperature %g over shards of %d triplets", opts.Temperature, opts.BatchSize/opts.BatchShards)
		if opts.KoLeoWeight > 0 {
			fmt.Fprintf(log, ", plus %g times the KoLeo term", opts.KoLeoWeight)
		}
		fmt.Fprintln(log)
	} else {
		fmt.Fprintf(log, "loss: triplet, gap %g\n", opts.Gap)
	}
	paths := src.allPaths(opts)
	side := max(opts.AugmentSize, r.m.Spec.SquareSide())
	fmt.Fprintf(log, "loading %d images at %dx%d...\n", len(paths), side, side)
	cache, err := loadImages(ctx, src.root, paths, r.m.Spec, side, opts.Workers, func(n int) {
		fmt.Fprintf(log, "  %d/%d images\n", n, len(paths))
	})
	if err != nil {
		return nil, err
	}
	r.filler = newBatchFiller(cache, r.m.Normalization, r.m.Spec, opts.Workers)
	if opts.AugmentQueriesOnly {
		r.filler.augmentedSlots = opts.BatchSize
		fmt.Fprintf(log, "augmenting queries only: positives and negatives as they are\n")
	}
	if err := r.setupMemory(cache); err != nil {
		return nil, err
	}
	if opts.Distill.Weight > 0 {
		if r.teacher, err = newTeacher(opts.Distill.Model, r.m.Spec.EmbeddingDim, cache, opts.Workers); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "distilling %s at weight %g\n", opts.Distill.Model, opts.Distill.Weight)
	}
	if opts.ValidationSuite != "" {
		if r.suite, err = loadSuite(ctx, opts.ValidationSuite, r.m.Spec, opts.Workers); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "validation suite %s: %d sets, %d images\n", opts.ValidationSuite, len(r.suite.Names()), r.suite.Images())
	}
	if err := r.buildGraph(); err != nil {
		return nil, err
	}
	defer r.close()
	return r.loop(ctx)
}

// loadSuite reads the evaluation suite at path and decodes its images.
func loadSuite(ctx context.Context, path string, spec model.Spec, workers int) (*eval.Tracker, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("validation_suite: %w", err)
	}
	defer f.Close()
	suite, err := eval.ParseSuite(f, path)
	if err != nil {
		return nil, fmt.Errorf("validation_suite: %w", err)
	}
	return eval.NewTracker(ctx, suite, spec, workers)
}

// checkStart refuses a Fresh run over a checkpoint, and removes the
// checkpoint for a Restart.
func (r *run) checkStart(start Start) error {
	path := r.checkpointPath()
	switch start {
	case Fresh:
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("train: %s: %w", path, ErrCheckpointExists)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("train: %w", err)
		}
	case Restart:
		if err := os.Remove(path); err == nil {
			fmt.Fprintf(r.log, "restarting: removed the checkpoint %s\n", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("train: restart: %w", err)
		}
	}
	return nil
}

// setupModel starts from a checkpoint, a model to fine-tune, or random
// weights, in that order.
func (r *run) setupModel(resume bool) error {
	o := r.opts
	r.opt = newOptimizer(o)
	if resume {
		st, m, err := loadCheckpoint(r.checkpointPath())
		switch {
		case err == nil:
			r.m, r.state = m, st
			// Hyperparameters come from the options; the optimiser's
			// buffers carry over when it is the same kind.
			if st.Optimizer.Kind == o.Optimizer {
				r.opt.Step, r.opt.M, r.opt.V = st.Optimizer.Step, st.Optimizer.M, st.Optimizer.V
			}
			fmt.Fprintf(r.log, "resuming from %s at epoch %d, step %d\n", r.checkpointPath(), st.Epoch+1, st.Step)
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(r.log, "no checkpoint in %s: starting afresh\n", o.RunDir)
		default:
			return err
		}
	}
	if r.m == nil && o.InitModel != "" {
		m, err := model.Load(o.InitModel)
		if err != nil {
			return fmt.Errorf("init_model: %w", err)
		}
		v, _ := m.Version()
		m.Provenance = model.Provenance{Parent: v}
		m.Normalization = o.Normalization
		r.m = m
		fmt.Fprintf(r.log, "fine-tuning %s (version %s)\n", o.InitModel, v)
	}
	if r.m == nil {
		m, err := model.New(o.Model, o.Normalization)
		if err != nil {
			return fmt.Errorf("config: model: %w", err)
		}
		m.Initialize(o.Seed)
		if o.InitWeights != "" {
			if err := warmStart(m, o.InitWeights, r.log); err != nil {
				return err
			}
		}
		a, _ := m.Spec.Arch()
		if err := initBranches(m, a, o.InitBranches, r.log); err != nil {
			return err
		}
		r.m = m
	}
	r.arch, _ = r.m.Spec.Arch()
	if o.TrainViews {
		n := model.NewViews(r.m).Len()
		if n == 0 {
			return errors.New("config: train_views: the model's spec has no views: set center_views, grey_view or trim_view in model, or fine-tune (init_model) a model that has them")
		}
		fmt.Fprintf(r.log, "train_views: each image embedded with its views (%d: centre %v, grey %g, trimmed %g), %d passes of the network\n",
			n, r.m.Spec.CenterViews, r.m.Spec.GreyView, r.m.Spec.TrimView, 1+n)
	}
	// A misnamed branch to tune is an error now, not after training.
	if err := checkBranches(r.arch, "tune_head", o.TuneHead.Branches); err != nil {
		return err
	}
	if len(o.Freeze) > 0 {
		f, desc, err := freeze(r.m, r.arch, o.Freeze)
		if err != nil {
			return err
		}
		r.frozen = f
		fmt.Fprintln(r.log, desc)
	}
	// A thumbnail's side that the input does not divide is an error now,
	// not after training.
	if t := o.TuneThumbnail; len(t.Weights) > 0 {
		if err := checkThumbnail(r.m.Spec, "tune_thumbnail", t.At(t.Weights[0])); err != nil {
			return err
		}
	}
	if t := o.Thumbnail; t != (model.Thumbnail{}) {
		if err := checkThumbnail(r.m.Spec, "thumbnail", &t); err != nil {
			return err
		}
	}
	net, err := model.NewNet(learnedOnly(r.m), &model.NetOptions{Workers: o.Workers})
	if err != nil {
		return err
	}
	r.net = net
	return nil
}

// checkThumbnail reports, as an error of the configuration's key, a
// thumbnail t that spec cannot have.
func checkThumbnail(spec model.Spec, key string, t *model.Thumbnail) error {
	spec.Thumbnail = t
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("config: %s: %w", key, err)
	}
	return nil
}

// learnedOnly returns m without its thumbnail (model.Spec.Thumbnail),
// sharing its weights: what a run trains, mines on and tracks. A thumbnail
// has no weights and the loss does not see it; the model file keeps it.
func learnedOnly(m *model.Model) *model.Model {
	if m.Spec.Thumbnail == nil {
		return m
	}
	learned := *m
	learned.Spec.Thumbnail = nil
	return &learned
}

// warmStart copies into m every weight of the model file at path whose name
// and shape m's spec shares (a changed head or branch keeps its random
// start), and logs what it took. When m's input size differs from the
// file's, a convolution whose kernel was scaled with it is resampled
// (resampleKernel): a model grown to a larger input starts out computing
// what the file's did on the smaller one. A head that only grew, because
// m's spec adds branches to the file's, is grown instead (see growHead).
func warmStart(m *model.Model, path string, log io.Writer) error {
	from, err := model.Load(path)
	if err != nil {
		return fmt.Errorf("init_weights: %w", err)
	}
	fromArch, err := from.Spec.Arch()
	if err != nil {
		return fmt.Errorf("init_weights %s: %w", path, err)
	}
	toArch, err := m.Spec.Arch()
	if err != nil {
		return err
	}
	fromShapes, toShapes := paramShapes(fromArch), paramShapes(toArch)
	fromInput, toInput := from.Spec.InputSize, m.Spec.InputSize
	var took, resampled, kept []string
	for name, w := range m.Weights {
		src, ok := from.Weights[name]
		fs, ts := fromShapes[name], toShapes[name]
		switch {
		case !ok:
			kept = append(kept, name)
		// Equal sizes are not enough: a dense layer whose input and output
		// widths swapped has as many weights, laid out otherwise.
		case slices.Equal(fs, ts):
			copy(w, src)
			took = append(took, name)
		case scaledKernel(fs, ts, fromInput, toInput):
			resampleKernel(w, src, fs[2], ts[2])
			resampled = append(resampled, name)
		default:
			kept = append(kept, name)
		}
	}
	slices.Sort(took)
	slices.Sort(kept)
	fmt.Fprintf(log, "init_weights %s: %d tensors taken (%s); %d random (%s)\n",
		path, len(took), strings.Join(took, " "), len(kept), strings.Join(kept, " "))
	if len(resampled) > 0 {
		slices.Sort(resampled)
		fmt.Fprintf(log, "init_weights %s: %d kernels resampled from %d to %d pixels of input (%s)\n",
			path, len(resampled), fromInput, toInput, strings.Join(resampled, " "))
	}
	if grown, muted := growHead(m, toArch, from, fromArch); grown != "" {
		fmt.Fprintf(log, "init_weights %s: %s grown: the rows of the branches both specs have taken, the rows of the new ones (%s) zero, so the model starts as the file's\n",
			path, grown, strings.Join(muted, " "))
	}
	return nil
}

// growHead handles a spec that adds branches to from's: the head's first
// layer then sees more inputs, and its weights differ in shape only by the
// new branches' rows. It copies the rows of every branch that both specs
// have (same name, same output size) and zeroes the new branches' rows, so
// that m embeds every image exactly as from does until training gives the
// new branches weight (their own weights start random, and get gradients
// once their rows move from zero). It returns the grown weight's name and
// the new branches, or "" when the head is not one that grew (its output,
// bias or any branch of from's differs).
func growHead(m *model.Model, to model.Arch, from *model.Model, fromArch model.Arch) (string, []string) {
	th, fh := to.Head[0], fromArch.Head[0]
	bias := th.Name + ".b"
	if th.Kind != model.Dense || fh.Kind != model.Dense || th.Name != fh.Name || th.Out != fh.Out ||
		th.In.Size() <= fh.In.Size() || !slices.Equal(m.Weights[bias], from.Weights[bias]) {
		return "", nil
	}
	// Rows of each branch in from's head input, by name.
	old := map[string]branchRows{}
	for _, r := range headRows(fromArch) {
		old[r.name] = r
	}
	// Where each of m's branches takes its rows from: -1 for a new one.
	rows := headRows(to)
	plan := make([]int, len(rows))
	matched := 0
	var muted []string
	for i, r := range rows {
		o, ok := old[r.name]
		switch {
		case !ok:
			plan[i] = -1
			muted = append(muted, r.name)
		case o.n != r.n:
			return "", nil
		default:
			plan[i] = o.at
			matched++
		}
	}
	if matched != len(fromArch.Branches) {
		return "", nil // a branch of from's is gone: the model cannot start as from
	}
	out := th.Out.C
	dst, src := m.Weights[th.Name+".w"], from.Weights[fh.Name+".w"]
	for i, r := range rows {
		if part := dst[r.at*out : (r.at+r.n)*out]; plan[i] < 0 {
			clear(part)
		} else {
			copy(part, src[plan[i]*out:(plan[i]+r.n)*out])
		}
	}
	return th.Name + ".w", muted
}

// branchRows is where one branch's output sits in the head's input: rows
// [at, at+n) of its first dense layer's weights.
type branchRows struct {
	name  string
	at, n int
}

// headRows lists the rows of each of a's branches, in a.Branches' order.
func headRows(a model.Arch) []branchRows {
	rows := make([]branchRows, len(a.Branches))
	at := 0
	for i, b := range a.Branches {
		n := b.Layers[len(b.Layers)-1].Out.Size()
		rows[i] = branchRows{b.Name, at, n}
		at += n
	}
	return rows
}

// paramShapes maps each parameter of a to its shape.
func paramShapes(a model.Arch) map[string][]int {
	shapes := map[string][]int{}
	for _, p := range a.Params() {
		shapes[p.Name] = p.Shape
	}
	return shapes
}

// buildGraph builds one training graph per batch shard, all over the
// model's weights.
func (r *run) buildGraph() error {
	k := r.opts.BatchShards
	for range k {
		s, err := newShard(r.arch, r.m, r.opts.BatchSize/k, r.opts, fastOps)
		if err != nil {
			r.close()
			return err
		}
		r.shards = append(r.shards, s)
	}
	in := r.arch.Input
	r.x = make([]float32, 3*r.opts.BatchSize*in.C*in.H*in.W)
	if r.opts.Distill.Weight > 0 {
		r.target = make([]float32, 3*r.opts.BatchSize*r.arch.Dim())
	}
	for _, p := range r.shards[0].ng.params {
		r.names = append(r.names, p.Name())
		r.weights = append(r.weights, p.Value().Data().([]float32))
	}
	return nil
}

func (r *run) close() {
	for _, s := range r.shards {
		s.Close()
	}
}

// step runs one optimiser step on r.x, at the learning rate scaled by
// lrScale, and returns the batch loss. The shards run in parallel; each
// draws its dropout masks from its own stream of seed.
func (r *run) step(seed uint64, lrScale float64) (float64, error) {
	b, k := r.opts.BatchSize, len(r.shards)
	losses := make([]float64, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i, s := range r.shards {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, 0xd409+uint64(i)))
			losses[i], errs[i] = s.run(r.x, r.target, r.labels, b, i*s.b, rng)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("train step: %w", err)
	}
	// The batch's loss is the mean of the shards' equal-sized means, and so
	// is its gradient.
	grads, loss := r.shards[0].grads, losses[0]
	for i, s := range r.shards[1:] {
		loss += losses[i+1]
		for p, g := range s.grads {
			sum := grads[p]
			for j, v := range g {
				sum[j] += v
			}
			clear(g)
		}
	}
	if k > 1 {
		loss /= float64(k)
		inv := 1 / float32(k)
		for _, g := range grads {
			for j := range g {
				g[j] *= inv
			}
		}
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("train step: loss is %v: lower learning_rate", loss)
	}
	r.opt.update(r.names, r.weights, grads, lrScale)
	if r.frozen != nil {
		r.frozen.restore()
	}
	return loss, nil
}

// load fills r.x with batch, augmented with the generator of seed, mines
// its negatives, and sets what the loss needs besides: the teacher's
// targets with distillation, the images' classes with the contrastive
// loss. It returns where mining took each negative from (nil without
// mining).
func (r *run) load(batch []dataset.Triplet, seed uint64) []negative {
	o := &r.opts
	b := len(batch)
	r.filler.fill(batch, r.x, r.augmentFor, seed)
	var labels []int
	if o.Mining != trainconfig.NoMining || o.Loss == trainconfig.Contrastive {
		labels = r.src.batchLabels(batch)
	}
	var mined []negative
	var emb []float32 // the batch's embeddings as drawn, with mining
	mem := &r.state.Memory
	if o.Mining != trainconfig.NoMining {
		emb = r.net.Forward(r.x, 3*b)
		var view func(row int, dst []float32)
		if mem.rows() > 0 {
			view = func(row int, dst []float32) {
				model.ToTensor(mem.view(r.filler, row, r.augmentFor), r.filler.norm, dst)
			}
		}
		mined = mineNegatives(emb, r.net.Dim(), r.x, labels, b, o.Mining, mem, view, o.Workers)
	}
	if r.teacher != nil {
		r.teacher.targets(afterMining(slotPaths(batch), mined, b, mem.Paths), r.target)
	}
	if o.Loss == trainconfig.Contrastive {
		r.labels = afterMining(labels, mined, b, mem.Labels)
	}
	if emb != nil && mem.rows() > 0 {
		// The batch's own draws, not the views mined into it, which the
		// memory holds already; only now, as the rows just mined (read
		// above) may be among those this overwrites.
		mem.remember(emb, labels, slotPaths(batch), seed)
	}
	return mined
}

// fromMemory counts the negatives mined from mining's memory.
func fromMemory(mined []negative) int {
	n := 0
	for _, m := range mined {
		if m.row >= 0 {
			n++
		}
	}
	return n
}

func (r *run) loop(ctx context.Context) (*Result, error) {
	o := r.opts
	b := o.BatchSize
	st := &r.state
	res := &Result{}
	if st.Epoch == 0 && st.Step == 0 {
		m := r.evaluate(0, 0, 0, 0)
		st.Initial = m
		// A fine-tuning or warm-started run starts from trained weights: say
		// so, so that its first line is not read as a random network's.
		label := "untrained"
		if o.InitModel != "" || o.InitWeights != "" || len(o.InitBranches) > 0 {
			label = "initial model"
		}
		fmt.Fprintf(r.log, "%s: held-out precision %.4f  recall@1 %s  loss %.4f\n", label, m.ValPrecision, recallText(m.ValRecall1), m.ValLoss)
		r.logSuite(m)
	}
	res.Initial = st.Initial
	r.lastSave = time.Now()
	for ; st.Epoch < o.Epochs; st.Epoch++ {
		ts := r.src.epochTriplets(o, st.Epoch)
		steps := (len(ts) + b - 1) / b
		if o.StepsPerEpoch > 0 {
			steps = min(steps, o.StepsPerEpoch)
		}
		start := time.Now()
		lastLog := start
		firstStep := st.Step
		batch := make([]dataset.Triplet, b)
		for ; st.Step < steps; st.Step++ {
			if err := ctx.Err(); err != nil {
				if serr := r.saveCheckpoint(); serr != nil {
					return nil, serr
				}
				fmt.Fprintf(r.log, "interrupted: checkpoint written to %s; continue with --resume\n", r.checkpointPath())
				return nil, err
			}
			// The last short batch is filled from the epoch's start, so
			// any number of triplets works.
			for i := range b {
				batch[i] = ts[(st.Step*b+i)%len(ts)]
			}
			seed := seedFor(o.Seed, st.Epoch, st.Step)
			st.Remembered += fromMemory(r.load(batch, seed))
			progress := (float64(st.Epoch) + float64(st.Step)/float64(steps)) / float64(o.Epochs)
			loss, err := r.step(seed, lrScale(o.LRSchedule, progress))
			if err != nil {
				return nil, err
			}
			st.LossSum += loss
			st.LossN++
			if now := time.Now(); now.Sub(lastLog) >= 10*time.Second || st.Step == steps-1 {
				done := st.Step + 1 - firstStep
				rate := float64(done*b) / now.Sub(start).Seconds()
				left := float64((steps-st.Step-1)+(o.Epochs-st.Epoch-1)*steps) * float64(b) / rate
				fmt.Fprintf(r.log, "epoch %d/%d  step %d/%d  loss %.4f  %.1f triplets/s  ETA %s\n",
					st.Epoch+1, o.Epochs, st.Step+1, steps, st.LossSum/float64(st.LossN), rate, (time.Duration(left) * time.Second).Round(time.Second))
				lastLog = now
			}
			if time.Since(r.lastSave) >= o.CheckpointEvery {
				if err := r.saveAfterStep(); err != nil {
					return nil, err
				}
			}
		}
		secs := time.Since(start).Seconds()
		m := r.evaluate(st.Epoch+1, st.LossSum/float64(max(st.LossN, 1)), float64((steps-firstStep)*b)/secs, secs)
		st.History = append(st.History, m)
		fmt.Fprintf(r.log, "epoch %d/%d done: train loss %.4f  held-out loss %.4f  precision %.4f  recall@1 %s  (%.0fs)\n",
			m.Epoch, o.Epochs, m.TrainLoss, m.ValLoss, m.ValPrecision, recallText(m.ValRecall1), secs)
		if o.MiningMemory > 0 {
			fmt.Fprintf(r.log, "  negatives mined from the memory: %.1f%%\n", 100*float64(st.Remembered)/float64(max(1, steps*b)))
		}
		st.Step, st.LossSum, st.LossN, st.Remembered = 0, 0, 0, 0
		r.logSuite(m)
		if st.BestEpoch == 0 || better(o.SelectBy, m, st.Best) {
			st.Best, st.BestEpoch = m, m.Epoch
			if err := r.saveBest(); err != nil {
				return nil, err
			}
		}
		if err := writeCurves(o.RunDir, st.Initial, st.History); err != nil {
			return nil, err
		}
		stop := ""
		if o.Patience > 0 && m.Epoch-st.BestEpoch >= o.Patience {
			stop = fmt.Sprintf("early stop: no better held-out %s for %d epochs", o.SelectBy, o.Patience)
		}
		st.Epoch++ // the checkpoint records the next epoch to run
		err := r.saveCheckpoint()
		st.Epoch--
		if err != nil {
			return nil, err
		}
		if stop != "" {
			fmt.Fprintln(r.log, stop)
			res.Stopped = stop
			break
		}
	}
	if o.Epochs == 0 {
		// Nothing was trained: the starting model is the one to tune.
		st.Best = st.Initial
		if err := r.saveBest(); err != nil {
			return nil, err
		}
	}
	best, err := model.Load(o.Output)
	if err != nil {
		return nil, fmt.Errorf("train: reload best model: %w", err)
	}
	// A thumbnail given is set first, so that the tuning steps judge the
	// model with it.
	if best, err = r.setThumbnail(best); err != nil {
		return nil, err
	}
	if best, err = r.tuneHead(best); err != nil {
		return nil, err
	}
	if best, err = r.tuneViews(best); err != nil {
		return nil, err
	}
	if best, err = r.tuneGrey(best); err != nil {
		return nil, err
	}
	if best, err = r.tuneThumbnail(best); err != nil {
		return nil, err
	}
	if best, err = r.setVariants(best); err != nil {
		return nil, err
	}
	if best, err = r.setAspect(best); err != nil {
		return nil, err
	}
	res.Model = best
	res.Version, _ = best.Version()
	res.Best, res.History = st.Best, st.History
	fmt.Fprintf(r.log, "best model (by held-out %s): epoch %d, precision %.4f, recall@1 %s, written to %s (version %s)\n",
		o.SelectBy, st.BestEpoch, st.Best.ValPrecision, recallText(st.Best.ValRecall1), o.Output, res.Version)
	return res, nil
}

// setupMemory gives the run the mining memory its options ask for: the
// checkpoint's, when it is of that size and holds this run's training
// images, else an empty one (none with mining_memory 0); the log says when
// a resumed run's memory changes. A damaged memory is an error.
func (r *run) setupMemory(cache imageCache) error {
	n, dim := r.opts.MiningMemory, r.arch.Dim()
	mem := &r.state.Memory
	if mem.rows() == n && n > 0 {
		training := map[string]bool{}
		for _, p := range r.src.parts {
			for _, path := range p.set.Paths {
				training[path] = true
			}
		}
		known := func(path string, label int) bool {
			return training[path] && r.src.labels[path] == label && cache[path] != nil
		}
		if err := mem.check(n, dim, known); err != nil {
			return fmt.Errorf("config: mining_memory: the checkpoint in %s: %w (--restart starts the run afresh)", r.opts.RunDir, err)
		}
		return nil
	}
	if resumed := r.state.Epoch > 0 || r.state.Step > 0; mem.rows() != n && (mem.rows() > 0 || resumed) {
		fmt.Fprintf(r.log, "mining_memory: the checkpoint's memory held %d images, the options ask for %d: mining goes on with an empty one\n", mem.rows(), n)
	}
	*mem = memory{}
	if n > 0 {
		*mem = newMemory(n, dim)
	}
	return nil
}

// better reports whether m beats best on the metric named by selectBy.
func better(selectBy string, m, best EpochMetrics) bool {
	switch selectBy {
	case "recall1":
		return m.ValRecall1 > best.ValRecall1
	case "loss":
		return m.ValLoss < best.ValLoss
	case "suite":
		return m.SuiteMean > best.SuiteMean
	}
	return m.ValPrecision > best.ValPrecision
}

// logSuite writes the validation suite's scores of m, one set a line.
func (r *run) logSuite(m EpochMetrics) {
	if r.suite == nil {
		return
	}
	fmt.Fprintf(r.log, "  validation suite: mean recall@1 %.4f\n", m.SuiteMean)
	for i, name := range r.suite.Names() {
		fmt.Fprintf(r.log, "    %.4f  %s\n", m.Suite[i], name)
	}
}

func recallText(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", v)
}

// augmentFor returns the augmentation of the training image at path: its
// mix entry's own, or train.augment.
func (r *run) augmentFor(path string) *imageio.Augment {
	return r.src.augmentFor(path, &r.opts.Augment)
}

// evaluate measures the current weights on the held-out data with the fast
// forward pass (no gorgonia run, so no gradient is disturbed).
func (r *run) evaluate(epoch int, trainLoss, rate, secs float64) EpochMetrics {
	m := EpochMetrics{Epoch: epoch, TrainLoss: trainLoss, TripletsPerSec: rate, Seconds: secs, ValRecall1: -1, SuiteMean: -1}
	if r.suite != nil {
		m.Suite = r.suite.Recall1(r.net, r.m.Normalization)
		m.SuiteMean = meanOf(m.Suite)
	}
	val := r.src.val
	paths := distinctPaths(val)
	if r.src.valSet != nil {
		paths = append(paths, r.src.valSet.Paths...)
	}
	// With instances, an image's held-out copy is a fixed augmentation of
	// it (the same every epoch), keyed by the path after a NUL, which no
	// path holds.
	copyOf := func(p string) string { return p }
	if r.src.instances {
		copyOf = func(p string) string { return "\x00" + p }
		n := len(paths)
		for _, p := range paths[:n] {
			paths = append(paths, copyOf(p))
		}
	}
	vecs := embedder.EmbedSquares(r.net, r.m.Normalization, paths, func(p string) []*image.RGBA {
		if orig, ok := strings.CutPrefix(p, "\x00"); ok {
			rng := rand.New(rand.NewPCG(seedFor(r.opts.Seed, -1), uint64(dataset.HashFraction(orig)*(1<<53))))
			return []*image.RGBA{r.filler.augmented(orig, r.augmentFor(orig), rng)}
		}
		return []*image.RGBA{r.filler.input(r.filler.cache[p])}
	})
	var lossSum float64
	m.ValPrecision = eval.TripletScore(len(val), func(i int) (q, p, n []float32) {
		t := val[i]
		q, p, n = vecs[copyOf(t.Query)], vecs[t.Positive], vecs[t.Negative]
		if r.opts.Loss == trainconfig.Triplet {
			lossSum += max(0, r.opts.Gap+float64(eval.SquaredDistance(q, p))-float64(eval.SquaredDistance(q, n)))
		}
		return q, p, n
	})
	if r.opts.Loss == trainconfig.Contrastive {
		m.ValLoss = r.heldOutContrastive(val, vecs, copyOf)
	} else {
		m.ValLoss = lossSum / float64(max(len(val), 1))
	}
	if vs := r.src.valSet; vs != nil {
		g := make([][]float32, len(vs.Paths))
		q := make([][]float32, len(vs.Paths))
		for i, p := range vs.Paths {
			g[i], q[i] = vecs[p], vecs[copyOf(p)]
		}
		// Without instances each image is ranked against the others;
		// with them, its copy against all the originals.
		m.ValRecall1 = eval.Rank(q, vs.Labels, g, vs.Labels, !r.src.instances, []int{1}).Recall[1]
	}
	return m
}

// heldOutContrastive is the contrastive loss of the held-out triplets,
// with the KoLeo term when it is weighted, taken in groups of a training
// shard's size, as training takes them, and averaged over the groups by
// their triplets. vecs holds each image's embedding, and
// copyOf names a query's held-out copy in it.
func (r *run) heldOutContrastive(val []dataset.Triplet, vecs map[string][]float32, copyOf func(string) string) float64 {
	size := r.opts.BatchSize / r.opts.BatchShards
	dim := r.arch.Dim()
	sum := 0.0
	for lo := 0; lo < len(val); lo += size {
		group := val[lo:min(lo+size, len(val))]
		b := len(group)
		emb := make([]float32, 0, 3*b*dim)
		for j, p := range slotPaths(group) {
			if j < b {
				p = copyOf(p)
			}
			emb = append(emb, vecs[p]...)
		}
		labels := r.src.batchLabels(group)
		loss := contrastiveLossOf(emb, dim, labels, b, r.opts.Temperature)
		if w := r.opts.KoLeoWeight; w > 0 {
			loss += w * koleoLossOf(emb, dim, labels)
		}
		sum += float64(b) * loss
	}
	return sum / float64(max(len(val), 1))
}

func (r *run) checkpointPath() string { return filepath.Join(r.opts.RunDir, "checkpoint.drc") }

// saveAfterStep writes a checkpoint after the step st.Step, whose weights,
// losses and memory the state holds: one that resumes at the next step,
// not at this one again.
func (r *run) saveAfterStep() error {
	r.state.Step++
	defer func() { r.state.Step-- }()
	return r.saveCheckpoint()
}

func (r *run) saveCheckpoint() error {
	r.state.Optimizer = *r.opt
	if err := saveCheckpoint(r.checkpointPath(), r.m, r.state); err != nil {
		return err
	}
	r.lastSave = time.Now()
	return nil
}

// saveBest writes the current weights to Output with their provenance.
func (r *run) saveBest() error {
	m := r.m.Clone()
	best := r.state.Best
	m.Provenance.Created = time.Now().UTC().Format(time.RFC3339)
	m.Provenance.Data = r.src.describe()
	m.Provenance.Epochs = best.Epoch
	m.Provenance.Metrics = map[string]float64{
		"val_precision": best.ValPrecision,
		"val_loss":      best.ValLoss,
		"train_loss":    best.TrainLoss,
	}
	if best.ValRecall1 >= 0 {
		m.Provenance.Metrics["val_recall1"] = best.ValRecall1
	}
	if best.SuiteMean >= 0 {
		m.Provenance.Metrics["suite_mean_recall1"] = best.SuiteMean
	}
	if dir := filepath.Dir(r.opts.Output); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("save model: %w", err)
		}
	}
	_, err := m.Save(r.opts.Output)
	return err
}
