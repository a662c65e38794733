// Package trainconfig holds the options of a training run (the config's
// train section), their defaults and their validation. It is apart from
// package trainer so that loading a configuration does not link gorgonia.
package trainconfig

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/configerr"
	"github.com/deeprank/deeprank/model"
)

// Options configures a training run. Default gives the documented
// defaults; config.Load fills it from a YAML file, DEEPRANK_* variables and
// flags.
type Options struct {
	// Model is the network to train. Ignored when InitModel is set: a
	// fine-tuned model keeps its spec.
	Model model.Spec `json:"model"`
	// Normalization maps pixels in [0,1] to network inputs.
	Normalization model.Normalization `json:"normalization"`
	// InitModel, when set, is a model file to fine-tune instead of starting
	// from random weights.
	InitModel string `json:"init_model"`
	// InitWeights, when set, is a model file whose weights start the
	// parameters of Model that have the same name and size in it; the rest
	// start random. It warm-starts a changed architecture (a new head or
	// branch, a larger input) from a trained model: with InputSize
	// changed, a convolution whose kernel was scaled with it is taken
	// resampled. Not with InitModel.
	InitWeights string `json:"init_weights"`
	// InitBranches starts branches of Model from branches of other model
	// files: a backbone trained in one model (its convnet, say) becomes a
	// branch of this one (pooled1). Applied after InitWeights, whose
	// choice for those branches it replaces. Not with InitModel.
	InitBranches []InitBranch `json:"init_branches"`
	// Distill, when its Weight is above 0, adds to the loss a pull
	// of every training image's embedding towards a teacher model's
	// embedding of the same image unchanged: what the teacher knew is
	// kept while the augmentations teach that a changed copy is the same
	// image. It lets a new spec (whose head starts random) learn new
	// invariances without unlearning what the teacher was trained on.
	Distill Distill `json:"distill"`
	// Freeze names branches of the model (convnet, shallow1, shallow2, ...,
	// color, as the spec builds them) whose weights training leaves as
	// they are: their layers and their rows of the head. With a head grown
	// by InitWeights, freezing every old branch keeps the old model's
	// embedding as one part of the new one, exactly, and trains only what
	// the new branches add.
	// TrainViews embeds every training image as inference does, with the
	// model's views (its spec's center_views, grey_view and trim_view): the loss
	// sees the normalised sum of the image's embedding and its views', so
	// training learns the embedding that is used. Each view is one more
	// pass of the network per image. The model's spec must have views
	// (init_model's, or Model's).
	TrainViews bool     `json:"train_views"`
	Freeze     []string `json:"freeze"`
	Data       Data     `json:"data"`

	// Epochs is the number of passes to train. 0 trains nothing: the
	// model of InitModel or InitWeights is scored as it is and only the
	// tuning steps (TuneHead, TuneViews, TuneGrey) run, so a view can be
	// chosen for a trained model without training it again.
	Epochs int `json:"epochs"`
	// StepsPerEpoch caps the optimiser steps of an epoch; 0 means one pass
	// over the epoch's triplets.
	StepsPerEpoch int `json:"steps_per_epoch"`
	// BatchSize counts triplets; a batch holds three times as many images.
	BatchSize int `json:"batch_size"`
	// BatchShards splits every batch into this many equal parts that run
	// in parallel, each on its own copy of the graph, their gradients
	// averaged: gorgonia runs one op at a time, so this is what keeps a
	// second core busy. The trained weights depend on it (sums of floats
	// in another order), never on the number of cores.
	BatchShards int `json:"batch_shards"`
	// Loss is what training minimises: triplet (the paper's hinge on
	// each triplet, one negative per query) or contrastive (InfoNCE: each
	// query and positive must pick out its other view among all the
	// shard's images; every other class in the batch is a negative).
	// Contrastive needs class labels, to keep images of one class from
	// being pushed apart.
	Loss Loss `json:"loss"`
	// Gap is the hinge margin g of max(0, g + D(q,p) - D(q,n)); triplet
	// loss only.
	Gap float64 `json:"gap"`
	// Temperature is the tau that divides the cosine similarities in the
	// contrastive loss; contrastive loss only. Lower values weigh the
	// hardest negatives more.
	Temperature float64 `json:"temperature"`
	// KoLeoWeight, with the contrastive loss, adds this weight times the
	// Kozachenko-Leonenko entropy estimate's term, the mean over the
	// shard's images of -log of the distance to the nearest image of
	// another class (as SSCD does): it spreads the embeddings apart, so
	// that one distance threshold separates copies from different images
	// across the whole space. 0 leaves it out.
	KoLeoWeight float64 `json:"koleo_weight"`
	// Optimizer is sgd (with momentum) or adam.
	Optimizer    Optimizer `json:"optimizer"`
	LearningRate float64   `json:"learning_rate"`
	Momentum     float64   `json:"momentum"`
	Nesterov     bool      `json:"nesterov"`
	WeightDecay  float64   `json:"weight_decay"`
	// LRSchedule is constant, or cosine: the learning rate falls from
	// LearningRate to zero along a half cosine over the run's steps, which
	// lets the last epochs settle into a minimum instead of bouncing around it.
	LRSchedule Schedule `json:"lr_schedule"`
	// Mining replaces each triplet's negative by one chosen in the batch
	// (and, with MiningMemory, among recent images): none, semihard or
	// hard. Needs class labels (data.classes).
	Mining Mining `json:"mining"`
	// MiningMemory, with Mining, keeps the last MiningMemory images drawn
	// into batches, each as the augmented view its batch held and with
	// the embedding mining gave it, and lets mining take a triplet's
	// negative from them as well as from the batch: a query's negative is
	// the semi-hard (or hardest) of thousands of recent images instead of
	// a batch's few dozen. The view chosen is drawn again and embedded
	// afresh in the step, so the loss never sees an old embedding (one
	// that did would let the network lower it by moving all its
	// embeddings away from the old ones; RUN-NOTES' sixty-third
	// candidate). 0 mines in the batch alone.
	MiningMemory int    `json:"mining_memory"`
	Seed         uint64 `json:"seed"`

	Augment imageio.Augment `json:"augment"`
	// AugmentQueriesOnly augments the triplets' queries alone and takes
	// their positives and negatives as they are: a search compares a
	// user's edited copy with stored originals, not two edited copies.
	// false augments all three, each its own way.
	AugmentQueriesOnly bool `json:"augment_queries_only"`
	// AugmentSize is the side at which training images are held and
	// augmented before being reduced to the network's input: a crop of a
	// larger image keeps detail that a crop of the input-sized one would
	// have to invent by upscaling. Sizes up to the input size (0 too) mean
	// the input size.
	AugmentSize int `json:"augment_size"`

	// Output is where the best model (by SelectBy) is written.
	Output string `json:"output"`
	// SelectBy is the held-out metric that picks the best epoch and drives
	// Patience: "precision" (similarity precision on triplets), "recall1"
	// (Recall@1 among held-out images; needs class labels), "loss" or
	// "suite" (the mean Recall@1 over ValidationSuite's sets).
	SelectBy string `json:"select_by"`
	// ValidationSuite, when set, is an evaluation suite (the YAML of
	// `deeprank eval --suite`) whose sets are scored after every epoch
	// (and before the first): each set's Recall@1 is logged, and their
	// mean goes to the curves. The trainer's own held-out measure is
	// copies under the training augmentation, all changes at once; a suite
	// measures what the model is for, one change at a time.
	ValidationSuite string `json:"validation_suite"`
	// TuneHead, when it lists scales, tunes the kept model once training
	// ends: its head rows for TuneHead.Branches are multiplied by each
	// scale in turn, ValidationSuite is scored at each, and the scale of
	// the best mean is kept.
	TuneHead TuneHead `json:"tune_head"`
	// TuneViews, when it lists fractions, chooses the kept model's centre
	// view once training (and TuneHead) ends: the model without views and
	// with each fraction as its one view (model.Spec.CenterViews) are
	// scored on ValidationSuite, and the best mean is kept. A view is
	// free to train and costs a forward pass per image at inference.
	TuneViews []float64 `json:"tune_views"`
	// TuneGrey, when it lists weights, then chooses the kept model's grey
	// view the same way: none, or each weight as model.Spec.GreyView.
	TuneGrey []float64 `json:"tune_grey"`
	// TuneThumbnail, when it lists weights, then chooses the kept model's
	// thumbnail (model.Spec.Thumbnail) the same way: none, or a thumbnail
	// of TuneThumbnail.Side at each weight. Training never sees a
	// thumbnail, so it is chosen, or kept from init_model or model, after.
	TuneThumbnail TuneThumbnail `json:"tune_thumbnail"`
	// Thumbnail, unless all zero (none), is given to the kept model once
	// training ends and before the tuning steps, replacing any it has
	// (model.Spec.Thumbnail): a thumbnail chosen outside the trainer, e.g.
	// by `deeprank eval` on a model with variants, which the validation
	// suite does not see (it ranks by images' own vectors). Not with
	// tune_thumbnail, which chooses one itself.
	Thumbnail model.Thumbnail `json:"thumbnail"`
	// Variants, when set, are given to the kept model once training and
	// tuning end (model.Spec.Variants): the copies of each image that a
	// collection stores a vector of beside its own. Nothing trains on
	// them, and the validation suite, which ranks by images' own vectors,
	// does not see them: `deeprank eval` measures them. With crops, images
	// are squared at twice the input before they are reduced to it, so own
	// vectors move a little from those the tuning steps scored. None (the
	// default): the kept model's own, if any, stay.
	Variants model.Variants `json:"variants"`
	// AspectWeight, when above 0, is given to the kept model once training
	// and tuning end (model.Spec.AspectWeight): each vector ends with the
	// weight times log2 of the width over the height of what it describes,
	// so that stored strips meet crops of their shape. Nothing trains on
	// it, and the validation suite does not see it. 0 (the default): the
	// kept model's own, if any, stays.
	AspectWeight float64 `json:"aspect_weight"`
	// RunDir receives checkpoints, the metrics CSV and the curves PNG.
	RunDir string `json:"run_dir"`
	// CheckpointEvery is the longest time between checkpoints.
	CheckpointEvery time.Duration `json:"checkpoint_every"`
	// Patience stops training after this many epochs without a better
	// held-out SelectBy metric; 0 never stops early.
	Patience int `json:"patience"`
	// Workers prepares images in parallel; 0 means GOMAXPROCS.
	Workers int `json:"workers"`
}

// InitBranch starts the model's branch Branch from branch From of the model
// file Model, layer by layer: the file's From.L.w gives the model's
// Branch.L.w. The file's layers that Branch lacks (a projection that a
// pooled backbone drops) are left out; Branch's layers that the file's
// branch lacks keep their start. The head's rows are not touched, so a
// branch whose rows a grown head starts at zero (InitWeights) still adds
// nothing to the embedding until training moves them.
type InitBranch struct {
	Branch string `json:"branch"`
	Model  string `json:"model"`
	// From is the file's branch; empty means the one named Branch.
	From string `json:"from"`
}

// TuneHead names branches whose share of the embedding is chosen after
// training, on the validation suite. A branch trained beside frozen ones
// (Freeze) grows head rows of the size that its training data rewards,
// which need not be the size that the suite's tasks do; scaling them down
// gives the frozen branches more say in every distance.
type TuneHead struct {
	Branches []string `json:"branches"`
	// Scales are the factors tried, in order; the first of the best means
	// wins. List 1 to keep the rows as trained among the choices.
	Scales []float64 `json:"scales"`
}

// TuneThumbnail is Options.TuneThumbnail.
type TuneThumbnail struct {
	// Side is the thumbnail's side in pixels (model.Thumbnail.Side).
	Side int `json:"side"`
	// Fold folds the thumbnail left to right (model.Thumbnail.Fold).
	Fold bool `json:"fold"`
	// ChromaSide is the side of its colour planes, 0 for none
	// (model.Thumbnail.ChromaSide).
	ChromaSide int `json:"chroma_side"`
	// Weights are the thumbnail's shares of the distance tried, in order.
	Weights []float64 `json:"weights"`
}

// At is the thumbnail of t's side, fold and colour at weight w.
func (t TuneThumbnail) At(w float64) *model.Thumbnail {
	return &model.Thumbnail{Side: t.Side, Weight: w, Fold: t.Fold, ChromaSide: t.ChromaSide}
}

// Distill names a teacher model and the weight of the pull towards it.
type Distill struct {
	// Model is the teacher's model file. Its embedding must have as many
	// dimensions as the model trained; its input size may differ.
	Model string `json:"model"`
	// Weight scales the term added to the loss: the mean, over a batch's
	// images, of |s - t|^2, s the trained model's embedding of the
	// augmented image, t the teacher's of the image unchanged (both of
	// unit length, so the term is 2 - 2 cos). 0 turns distillation off.
	Weight float64 `json:"weight"`
}

// Optimizer names an optimiser.
type Optimizer string

// The optimisers.
const (
	// SGD is stochastic gradient descent with momentum (Nesterov's if
	// Options.Nesterov).
	SGD Optimizer = "sgd"
	// Adam is Kingma and Ba's Adam.
	Adam Optimizer = "adam"
)

// Valid reports whether o is one of the optimisers.
func (o Optimizer) Valid() bool { return o == SGD || o == Adam }

// Schedule names how the learning rate changes over a run.
type Schedule string

// The schedules.
const (
	// Constant keeps the learning rate.
	Constant Schedule = "constant"
	// Cosine lowers it to zero along a half cosine.
	Cosine Schedule = "cosine"
)

// Valid reports whether s is one of the schedules.
func (s Schedule) Valid() bool { return s == Constant || s == Cosine }

// Loss names a training loss.
type Loss string

// The losses.
const (
	// Triplet is the paper's loss: the mean over triplets of
	// max(0, gap + |q-p|^2 - |q-n|^2).
	Triplet Loss = "triplet"
	// Contrastive is InfoNCE (NT-Xent, as in SimCLR and SSCD) over each
	// batch shard: every query and positive is an anchor whose other view
	// must be the most similar of the shard's images of other classes.
	Contrastive Loss = "contrastive"
)

// Valid reports whether l is one of the losses.
func (l Loss) Valid() bool { return l == Triplet || l == Contrastive }

// The temperatures the contrastive loss accepts: exp(1/tau) must stay
// finite in float32 even summed over a large shard, and above 1 the
// softmax is nearly flat.
const (
	MinTemperature = 0.02
	MaxTemperature = 1.0
)

// MaxKoLeoWeight caps Options.KoLeoWeight; SSCD's 30 is within it.
const MaxKoLeoWeight = 100

// MaxMiningMemory caps Options.MiningMemory: each step compares every
// query with every row.
const MaxMiningMemory = 65536

// Mining names how a batch's negatives are chosen.
type Mining string

// The mining modes.
const (
	// NoMining keeps each triplet's negative.
	NoMining Mining = "none"
	// SemiHard takes the closest negative farther than the positive, else
	// the closest.
	SemiHard Mining = "semihard"
	// Hard takes the closest negative.
	Hard Mining = "hard"
)

// Valid reports whether m is one of the mining modes.
func (m Mining) Valid() bool { return m == NoMining || m == SemiHard || m == Hard }

// Data says where the triplets come from. Exactly one of Triplets and
// Classes is set.
type Data struct {
	// Root is the folder image paths are relative to.
	Root string `json:"root"`
	// Triplets is a triplet file (query,positive,negative per line).
	Triplets string `json:"triplets"`
	// ValTriplets is a held-out triplet file; when empty, ValFraction of
	// the triplets (chosen by a hash of the query path) are held out.
	ValTriplets string `json:"val_triplets"`
	// Classes is a folder of class subfolders (relative to Root, or
	// absolute); triplets are sampled anew every epoch.
	Classes string `json:"classes"`
	// Mix, instead of Classes, lists several class folders, each with its
	// own sampler counts, whose triplets are mixed in every epoch (e.g.
	// more triplets from a small set). Negatives come from the same folder.
	Mix []ClassSource `json:"mix"`
	// SelfPositives makes an image alone in its class its own positive;
	// the two copies are augmented differently (copy detection).
	SelfPositives bool `json:"self_positives"`
	// SplitBy chooses what the held-out hash is of: "path" (images) or
	// "class" (whole classes, for instance-level data).
	SplitBy string `json:"split_by"`
	// ValFraction of the images (or triplets) is held out for evaluation,
	// chosen by a hash of the path.
	ValFraction float64 `json:"val_fraction"`
	// Positives per image and Negatives per positive, for the sampler.
	Positives int `json:"positives"`
	Negatives int `json:"negatives"`
	// MaxValTriplets caps the held-out triplets evaluated every epoch.
	MaxValTriplets int `json:"max_val_triplets"`
}

// ClassSource is one class folder of Data.Mix.
type ClassSource struct {
	Classes   string `json:"classes"`
	Positives int    `json:"positives"`
	Negatives int    `json:"negatives"`
	// Instances makes every image under Classes, at any depth, its own
	// class: its positive is another augmented view of it (needs
	// data.self_positives). Held-out Recall@1 then becomes copy
	// detection: each held-out image, augmented, ranked against them all.
	Instances bool `json:"instances"`
	// Groups, with Instances, names a file (under data.root) of images
	// that show one object, PATH<TAB>GROUP with PATH under Classes: the
	// frames of one animation, say. The images of a group are one class,
	// each other's positives, which teaches a change of viewpoint. Whole
	// groups are held out, by a hash of "group:" + GROUP, and so is any
	// image whose path the instances' hash holds out (dataset.SplitGrouped).
	Groups string `json:"groups"`
	// GroupPositives, when above 0, replaces Positives for the images of
	// a group: the groups weighted up against the instances.
	GroupPositives int `json:"group_positives"`
	// Augment, when set, replaces train.augment for this folder's images,
	// in training batches and in their held-out copies: e.g. copy
	// augmentations (greyscale, strong crops) for instances, and milder
	// ones for pairs whose match depends on what those would remove (two
	// vendors' drawings of an emoji differ in detail but share colours).
	Augment *imageio.Augment `json:"augment"`
}

// Default returns the defaults of every field: the reference's
// optimiser (SGD, lr 0.001, Nesterov momentum 0.9, batch 8) and augmentation,
// on the compact spec.
func Default() Options {
	spec := model.DefaultSpec()
	spec.PooledBackbones = []model.PooledBackbone{} // as a config file lists none
	spec.CenterViews = []float64{}
	return Options{
		Model:         spec,
		Normalization: model.UnitNormalization(),
		InitBranches:  []InitBranch{},
		Freeze:        []string{},
		TuneHead:      TuneHead{Branches: []string{}, Scales: []float64{}},
		TuneViews:     []float64{},
		TuneGrey:      []float64{},
		TuneThumbnail: TuneThumbnail{Side: 8, Weights: []float64{}},
		Variants:      model.Variants{Rotations: []float64{}, Crops: []model.CropGrid{}, Downscales: []float64{}},
		Data: Data{
			ValFraction:    0.2,
			SplitBy:        "path",
			Mix:            []ClassSource{},
			Positives:      1,
			Negatives:      1,
			MaxValTriplets: 2000,
		},
		Epochs:       25,
		BatchSize:    8,
		BatchShards:  1,
		Loss:         Triplet,
		Gap:          1,
		Temperature:  0.1,
		Optimizer:    SGD,
		LearningRate: 0.001,
		LRSchedule:   Constant,
		Momentum:     0.9,
		Nesterov:     true,
		Mining:       NoMining,
		Seed:         1,
		Augment: imageio.Augment{
			HorizontalFlip: true,
			VerticalFlip:   true,
			Rotation:       30,
			Shear:          0.2,
			Zoom:           0.2,
		},
		Output:          "model.drk",
		SelectBy:        "precision",
		RunDir:          "runs/train",
		CheckpointEvery: 5 * time.Minute,
	}
}

// ErrInvalid is returned (wrapped) by Validate for an impossible value.
var ErrInvalid = errors.New("invalid training options")

// Validate reports the first impossible value, naming its config key; the
// error matches ErrInvalid.
func (o Options) Validate() error {
	bad := func(key, format string, args ...any) error {
		return configerr.New(ErrInvalid, "config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	if o.InitModel == "" {
		if err := o.Model.Validate(); err != nil {
			return configerr.New(ErrInvalid, "config: model: %w", err)
		}
	}
	for c, s := range o.Normalization.Std {
		if !(s > 0) {
			return bad("normalization.std", "channel %d is %g; it must be above 0", c, s)
		}
	}
	if err := o.Normalization.Standardize.Validate(); err != nil {
		return configerr.New(ErrInvalid, "config: normalization.%v", err)
	}
	switch {
	case o.InitModel != "" && o.InitWeights != "":
		return bad("init_weights", "set init_model (fine-tune a model as it is) or init_weights (start a new spec from its matching weights), not both")
	case o.InitModel != "" && len(o.InitBranches) > 0:
		return bad("init_branches", "set init_model (fine-tune a model as it is) or init_branches (start branches of a new spec from other models), not both")
	case o.Distill.Weight < 0 || o.Distill.Weight > 100 || math.IsNaN(o.Distill.Weight):
		return bad("distill.weight", "%g is outside 0..100", o.Distill.Weight)
	case o.Distill.Weight > 0 && o.Distill.Model == "":
		return bad("distill.model", "a distill.weight of %g needs the teacher's model file", o.Distill.Weight)
	case o.Distill.Weight == 0 && o.Distill.Model != "":
		return bad("distill.weight", "is 0, so the teacher %s would be ignored: give a weight above 0 (1 pulls as hard as the triplet loss pushes), or no distill.model", o.Distill.Model)
	case countSet(o.Data.Triplets != "", o.Data.Classes != "", len(o.Data.Mix) > 0) != 1:
		return bad("data", "set one of data.triplets (a triplet file), data.classes (a folder of class folders) and data.mix")
	case o.Data.SplitBy != "path" && o.Data.SplitBy != "class":
		return bad("data.split_by", "%q is not path or class", o.Data.SplitBy)
	case o.Data.ValFraction < 0 || o.Data.ValFraction >= 1:
		return bad("data.val_fraction", "%g is outside [0, 1)", o.Data.ValFraction)
	case o.Data.Classes != "" && (o.Data.Positives < 1 || o.Data.Negatives < 1):
		return bad("data.positives", "positives (%d) and negatives (%d) must be at least 1", o.Data.Positives, o.Data.Negatives)
	case o.Data.MaxValTriplets < 1:
		return bad("data.max_val_triplets", "%d must be at least 1", o.Data.MaxValTriplets)
	case o.Epochs < 0:
		return bad("epochs", "%d must not be negative", o.Epochs)
	case o.Epochs == 0 && o.InitModel == "" && o.InitWeights == "":
		return bad("epochs", "0 trains nothing, so it only tunes a trained model: give init_model or init_weights, or at least 1 epoch")
	case o.StepsPerEpoch < 0:
		return bad("steps_per_epoch", "%d must not be negative", o.StepsPerEpoch)
	case o.BatchSize < 1 || o.BatchSize > 4096:
		return bad("batch_size", "%d is outside 1..4096", o.BatchSize)
	case o.BatchShards < 1 || o.BatchSize%o.BatchShards != 0:
		return bad("batch_shards", "%d does not divide batch_size %d into equal parts", o.BatchShards, o.BatchSize)
	case !(o.Gap > 0):
		return bad("gap", "%g must be above 0", o.Gap)
	case !o.Loss.Valid():
		return bad("loss", "%q is not triplet or contrastive", o.Loss)
	case o.Loss == Contrastive && !(o.Temperature >= MinTemperature && o.Temperature <= MaxTemperature):
		return bad("temperature", "%g is outside [%g, %g]: exp(1/temperature) must stay finite in float32 (0.1 is the usual choice)", o.Temperature, MinTemperature, MaxTemperature)
	case !(o.KoLeoWeight >= 0 && o.KoLeoWeight <= MaxKoLeoWeight):
		return bad("koleo_weight", "%g is outside [0, %d]", o.KoLeoWeight, MaxKoLeoWeight)
	case o.KoLeoWeight > 0 && o.Loss != Contrastive:
		return bad("koleo_weight", "spreads the classes of a contrastive shard: set loss: contrastive, or koleo_weight: 0")
	case o.MiningMemory < 0 || o.MiningMemory > MaxMiningMemory:
		return bad("mining_memory", "%d is outside 0..%d", o.MiningMemory, MaxMiningMemory)
	case o.MiningMemory > 0 && o.Mining == NoMining:
		return bad("mining_memory", "keeps images for mining to choose negatives from: set mining: semihard or hard, or mining_memory: 0")
	case o.Loss == Contrastive && o.Data.Triplets != "":
		return bad("loss", "contrastive needs class labels, so that images of one class are not pushed apart: use data.classes or data.mix, or set loss: triplet")
	case !o.Optimizer.Valid():
		return bad("optimizer", "%q is not sgd or adam", o.Optimizer)
	case !(o.LearningRate > 0) || o.LearningRate > 10:
		return bad("learning_rate", "%g is outside (0, 10]", o.LearningRate)
	case o.Momentum < 0 || o.Momentum >= 1:
		return bad("momentum", "%g is outside [0, 1)", o.Momentum)
	case o.WeightDecay < 0:
		return bad("weight_decay", "%g must not be negative", o.WeightDecay)
	case !o.Mining.Valid():
		return bad("mining", "%q is not none, semihard or hard", o.Mining)
	case o.Mining != NoMining && o.Data.Triplets != "":
		return bad("mining", "mining needs class labels: use data.classes or data.mix, or set mining: none")
	case o.AugmentSize < 0 || o.AugmentSize > 1024:
		return bad("augment_size", "%d is outside 0..1024", o.AugmentSize)
	case !o.LRSchedule.Valid():
		return bad("lr_schedule", "%q is not constant or cosine", o.LRSchedule)
	case o.SelectBy != "precision" && o.SelectBy != "recall1" && o.SelectBy != "loss" && o.SelectBy != "suite":
		return bad("select_by", "%q is not precision, recall1, loss or suite", o.SelectBy)
	case o.SelectBy == "suite" && o.ValidationSuite == "":
		return bad("select_by", "suite needs validation_suite: the evaluation suite to score every epoch on")
	case o.SelectBy == "recall1" && o.Data.Triplets != "":
		return bad("select_by", "recall1 needs class labels: use data.classes or data.mix")
	case o.Output == "":
		return bad("output", "must name the model file to write")
	case o.RunDir == "":
		return bad("run_dir", "must name a folder for checkpoints and curves")
	case o.CheckpointEvery <= 0:
		return bad("checkpoint_every", "%v must be above 0", o.CheckpointEvery)
	case o.Patience < 0:
		return bad("patience", "%d must not be negative", o.Patience)
	case o.Workers < 0:
		return bad("workers", "%d must not be negative", o.Workers)
	}
	if err := validateAugment("augment", o.Augment); err != nil {
		return err
	}
	switch t := o.TuneHead; {
	case len(t.Scales) > 0 && o.ValidationSuite == "":
		return bad("tune_head.scales", "needs validation_suite: the suite whose mean Recall@1 chooses the scale")
	case len(t.Scales) > 0 && len(t.Branches) == 0:
		return bad("tune_head.branches", "is empty: name the branches whose head rows the scales multiply")
	case len(t.Branches) > 0 && len(t.Scales) == 0:
		return bad("tune_head.scales", "is empty: list the factors to try for %s, e.g. [0.5, 0.75, 1]", strings.Join(t.Branches, ", "))
	}
	for i, s := range o.TuneHead.Scales {
		if !(s > 0 && s <= 10) {
			return bad(fmt.Sprintf("tune_head.scales[%d]", i), "%g is outside (0, 10]", s)
		}
	}
	if len(o.TuneViews) > 0 && o.ValidationSuite == "" {
		return bad("tune_views", "needs validation_suite: the suite whose mean Recall@1 chooses the view")
	}
	for i, f := range o.TuneViews {
		if !(f >= 0.25 && f < 1) {
			return bad(fmt.Sprintf("tune_views[%d]", i), "%g is outside [0.25, 1): a view keeps that fraction of each side of the image, e.g. 0.85", f)
		}
	}
	if o.Model.Variants != nil {
		return bad("model.variants", "give the variants as variants, beside model: they are set on the kept model when training ends")
	}
	if o.Model.AspectWeight != 0 {
		return bad("model.aspect_weight", "give it as aspect_weight, beside model: it is set on the kept model when training ends")
	}
	if o.Variants.Any() || o.AspectWeight != 0 {
		s := model.DefaultSpec()
		if o.Variants.Any() {
			s.Variants = &o.Variants
		}
		s.AspectWeight = o.AspectWeight
		if err := s.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if len(o.TuneGrey) > 0 && o.ValidationSuite == "" {
		return bad("tune_grey", "needs validation_suite: the suite whose mean Recall@1 chooses the weight")
	}
	for i, w := range o.TuneGrey {
		if !(w > 0 && w <= 1) {
			return bad(fmt.Sprintf("tune_grey[%d]", i), "%g is outside (0, 1]: the grey view's weight beside the whole image's 1, e.g. 0.5", w)
		}
	}
	if t := o.Thumbnail; t != (model.Thumbnail{}) {
		switch {
		case len(o.TuneThumbnail.Weights) > 0:
			return bad("thumbnail", "is set and so is tune_thumbnail: give the thumbnail, or the weights to choose one from, not both")
		case !(t.Weight > 0 && t.Weight < 1):
			return bad("thumbnail.weight", "%g is outside (0, 1): the thumbnail's share of the distance, e.g. 0.3", t.Weight)
		}
	}
	if t := o.TuneThumbnail; len(t.Weights) > 0 {
		if o.ValidationSuite == "" {
			return bad("tune_thumbnail", "needs validation_suite: the suite whose mean Recall@1 chooses the weight")
		}
		for i, w := range t.Weights {
			if !(w > 0 && w < 1) {
				return bad(fmt.Sprintf("tune_thumbnail.weights[%d]", i), "%g is outside (0, 1): the thumbnail's share of the distance, e.g. 0.15", w)
			}
		}
	}
	for i, ib := range o.InitBranches {
		switch {
		case ib.Branch == "":
			return bad(fmt.Sprintf("init_branches[%d].branch", i), "is empty: name the model's branch to start (convnet, shallow1, ..., color, pooled1, ...)")
		case ib.Model == "":
			return bad(fmt.Sprintf("init_branches[%d].model", i), "is empty: give the model file that %s starts from", ib.Branch)
		}
	}
	for i, m := range o.Data.Mix {
		if m.Classes == "" || m.Positives < 1 || m.Negatives < 1 {
			return bad(fmt.Sprintf("data.mix[%d]", i), "needs classes, and positives and negatives of at least 1")
		}
		if m.Instances && !o.Data.SelfPositives {
			return bad(fmt.Sprintf("data.mix[%d].instances", i), "every image is its own class, so it needs data.self_positives: true")
		}
		if m.Groups != "" && !m.Instances {
			return bad(fmt.Sprintf("data.mix[%d].groups", i), "groups join instances into classes, so it needs instances: true (class folders are groups already)")
		}
		if m.GroupPositives < 0 || (m.GroupPositives > 0 && m.Groups == "") {
			return bad(fmt.Sprintf("data.mix[%d].group_positives", i), "%d: give 0 (positives) or a count above 0 with groups", m.GroupPositives)
		}
		if m.Augment != nil {
			if err := validateAugment(fmt.Sprintf("data.mix[%d].augment", i), *m.Augment); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateAugment reports the first impossible value of a, naming it under
// key (augment, or a mix entry's augment).
func validateAugment(key string, a imageio.Augment) error {
	bad := func(field, format string, args ...any) error {
		return configerr.New(ErrInvalid, "config: %s.%s: %s", key, field, fmt.Sprintf(format, args...))
	}
	switch {
	case a.Rotation < 0 || a.Rotation > 180:
		return bad("rotation", "%g is outside 0..180 degrees", a.Rotation)
	case a.Shear < 0 || a.Shear >= 90:
		return bad("shear", "%g is outside [0, 90) degrees", a.Shear)
	case a.Zoom < 0 || a.Zoom >= 1:
		return bad("zoom", "%g is outside [0, 1)", a.Zoom)
	case a.Crop < 0 || a.Crop >= 1:
		return bad("crop", "%g is outside [0, 1)", a.Crop)
	case a.CropAspect != 0 && (a.CropAspect < 1 || a.CropAspect > 4):
		return bad("crop_aspect", "%g is outside 1..4 (or 0, square crops)", a.CropAspect)
	case a.CropAspect > 1 && a.Crop == 0:
		return bad("crop_aspect", "%g shapes crops, but crop is 0 (no crops): set crop too", a.CropAspect)
	case a.ColorJitter < 0 || a.ColorJitter >= 1:
		return bad("color_jitter", "%g is outside [0, 1)", a.ColorJitter)
	case a.BrightnessShift < 0 || a.BrightnessShift >= 1:
		return bad("brightness_shift", "%g is outside [0, 1)", a.BrightnessShift)
	case a.Downscale < 0 || a.Downscale >= 1:
		return bad("downscale", "%g is outside [0, 1)", a.Downscale)
	case a.Grayscale < 0 || a.Grayscale > 1:
		return bad("grayscale", "%g is outside [0, 1]", a.Grayscale)
	case a.Skip < 0 || a.Skip >= 1:
		return bad("skip", "%g is outside [0, 1)", a.Skip)
	case a.JPEGProbability < 0 || a.JPEGProbability > 1:
		return bad("jpeg_probability", "%g is outside [0, 1]", a.JPEGProbability)
	case a.JPEGProbability > 0 && (a.JPEGMinQuality < 1 || a.JPEGMinQuality > 95):
		return bad("jpeg_min_quality", "%d is outside 1..95", a.JPEGMinQuality)
	}
	return nil
}

func countSet(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}
