package trainconfig

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
)

func TestValidate(t *testing.T) {
	valid := func() Options {
		o := Default()
		o.Data.Classes = "classes"
		return o
	}
	cases := []struct {
		name string
		edit func(*Options)
		want string // a part of the message; "" for valid
	}{
		{"default with data", func(*Options) {}, ""},
		{"no data", func(o *Options) { o.Data.Classes = "" }, "config: data: set one of"},
		{"two data", func(o *Options) { o.Data.Triplets = "t.txt" }, "config: data: set one of"},
		{"optimizer", func(o *Options) { o.Optimizer = "rmsprop" }, `config: optimizer: "rmsprop" is not sgd or adam`},
		{"adam", func(o *Options) { o.Optimizer = Adam }, ""},
		{"schedule", func(o *Options) { o.LRSchedule = "step" }, `config: lr_schedule: "step" is not constant or cosine`},
		{"cosine", func(o *Options) { o.LRSchedule = Cosine }, ""},
		{"mining", func(o *Options) { o.Mining = "random" }, `config: mining: "random" is not none, semihard or hard`},
		{"hard", func(o *Options) { o.Mining = Hard }, ""},
		{"mining without labels", func(o *Options) { o.Data.Classes, o.Data.Triplets, o.Mining = "", "t.txt", SemiHard }, "config: mining: mining needs class labels"},
		{"loss", func(o *Options) { o.Loss = "infonce" }, `config: loss: "infonce" is not triplet or contrastive`},
		{"contrastive", func(o *Options) { o.Loss = Contrastive }, ""},
		{"contrastive at the lowest temperature", func(o *Options) { o.Loss, o.Temperature = Contrastive, MinTemperature }, ""},
		{"contrastive at the highest temperature", func(o *Options) { o.Loss, o.Temperature = Contrastive, MaxTemperature }, ""},
		{"temperature too low", func(o *Options) { o.Loss, o.Temperature = Contrastive, 0.01 }, "config: temperature: 0.01 is outside [0.02, 1]"},
		{"temperature too high", func(o *Options) { o.Loss, o.Temperature = Contrastive, 2 }, "config: temperature: 2 is outside [0.02, 1]"},
		{"temperature zero", func(o *Options) { o.Loss, o.Temperature = Contrastive, 0 }, "config: temperature: 0 is outside"},
		{"temperature ignored by the triplet loss", func(o *Options) { o.Temperature = 0 }, ""},
		{"koleo", func(o *Options) { o.Loss, o.KoLeoWeight = Contrastive, 1 }, ""},
		{"the largest koleo weight", func(o *Options) { o.Loss, o.KoLeoWeight = Contrastive, MaxKoLeoWeight }, ""},
		{"koleo weight too large", func(o *Options) { o.Loss, o.KoLeoWeight = Contrastive, 101 }, "config: koleo_weight: 101 is outside [0, 100]"},
		{"koleo weight negative", func(o *Options) { o.Loss, o.KoLeoWeight = Contrastive, -0.5 }, "config: koleo_weight: -0.5 is outside [0, 100]"},
		{"koleo weight not a number", func(o *Options) { o.Loss, o.KoLeoWeight = Contrastive, math.NaN() }, "config: koleo_weight: NaN is outside [0, 100]"},
		{"koleo with the triplet loss", func(o *Options) { o.KoLeoWeight = 1 }, "config: koleo_weight: spreads the classes of a contrastive shard"},
		{"mining memory", func(o *Options) { o.Mining, o.MiningMemory = SemiHard, 4096 }, ""},
		{"the largest mining memory", func(o *Options) { o.Mining, o.MiningMemory = Hard, MaxMiningMemory }, ""},
		{"mining memory too large", func(o *Options) { o.Mining, o.MiningMemory = SemiHard, MaxMiningMemory+1 }, "config: mining_memory: 65537 is outside 0..65536"},
		{"mining memory negative", func(o *Options) { o.Mining, o.MiningMemory = SemiHard, -1 }, "config: mining_memory: -1 is outside 0..65536"},
		{"mining memory without mining", func(o *Options) { o.Mining, o.MiningMemory = NoMining, 4096 }, "config: mining_memory: keeps images for mining"},
		{"contrastive without labels", func(o *Options) { o.Data.Classes, o.Data.Triplets, o.Loss = "", "t.txt", Contrastive }, "config: loss: contrastive needs class labels"},
		{"batch", func(o *Options) { o.BatchSize = 0 }, "config: batch_size: 0 is outside 1..4096"},
		{"model", func(o *Options) { o.Model.InputSize = 0 }, "config: model: "},
		{"normalization std", func(o *Options) { o.Normalization.Std[2] = 0 }, "config: normalization.std: channel 2 is 0; it must be above 0"},
		{"standardize", func(o *Options) { o.Normalization.Standardize = model.Standardization{Mean: 0.8, Std: 0.28} }, ""},
		{"standardize without a spread", func(o *Options) { o.Normalization.Standardize.Mean = 0.8 }, "config: normalization.standardize.std is 0; it must be above 0 and at most 0.5"},
		{"model ignored when fine-tuning", func(o *Options) { o.Model.InputSize, o.InitModel = 0, "m.drk" }, ""},
		{"init model and weights", func(o *Options) { o.InitModel, o.InitWeights = "a.drk", "b.drk" }, "config: init_weights: set init_model"},
		{"warm start", func(o *Options) { o.InitWeights = "b.drk" }, ""},
		{"no epochs", func(o *Options) { o.Epochs = 0 }, "config: epochs: 0 trains nothing, so it only tunes a trained model: give init_model or init_weights, or at least 1 epoch"},
		{"negative epochs", func(o *Options) { o.Epochs = -1 }, "config: epochs: -1 must not be negative"},
		{"tune only", func(o *Options) { o.Epochs, o.InitModel = 0, "m.drk" }, ""},
		{"init branch", func(o *Options) { o.InitBranches = []InitBranch{{Branch: "pooled1", Model: "a.drk", From: "convnet"}} }, ""},
		{"init branch without a branch", func(o *Options) { o.InitBranches = []InitBranch{{Branch: "convnet", Model: "a.drk"}, {Model: "a.drk"}} }, "config: init_branches[1].branch: is empty"},
		{"init branch without a model", func(o *Options) { o.InitBranches = []InitBranch{{Branch: "pooled1"}} }, "config: init_branches[0].model: is empty: give the model file that pooled1 starts from"},
		{"init model and branches", func(o *Options) {
			o.InitModel, o.InitBranches = "a.drk", []InitBranch{{Branch: "convnet", Model: "a.drk"}}
		}, "config: init_branches: set init_model"},
		{"tune head", func(o *Options) {
			o.ValidationSuite, o.TuneHead = "v.yaml", TuneHead{Branches: []string{"pooled1"}, Scales: []float64{0.5, 1}}
		}, ""},
		{"tune head without a suite", func(o *Options) { o.TuneHead = TuneHead{Branches: []string{"pooled1"}, Scales: []float64{1}} }, "config: tune_head.scales: needs validation_suite"},
		{"tune head without branches", func(o *Options) { o.ValidationSuite, o.TuneHead.Scales = "v.yaml", []float64{1} }, "config: tune_head.branches: is empty"},
		{"tune head without scales", func(o *Options) { o.TuneHead.Branches = []string{"pooled1", "color"} }, "config: tune_head.scales: is empty: list the factors to try for pooled1, color"},
		{"tune head scale", func(o *Options) {
			o.ValidationSuite, o.TuneHead = "v.yaml", TuneHead{Branches: []string{"pooled1"}, Scales: []float64{1, 0}}
		}, "config: tune_head.scales[1]: 0 is outside (0, 10]"},
		{"tune views without a suite", func(o *Options) { o.TuneViews = []float64{0.85} }, "config: tune_views: needs validation_suite"},
		{"tune views of the whole image", func(o *Options) { o.ValidationSuite, o.TuneViews = "v.yaml", []float64{0.85, 1} }, "config: tune_views[1]: 1 is outside [0.25, 1)"},
		{"tune views", func(o *Options) { o.ValidationSuite, o.TuneViews = "v.yaml", []float64{0.8, 0.85} }, ""},
		{"tune grey without a suite", func(o *Options) { o.TuneGrey = []float64{0.5} }, "config: tune_grey: needs validation_suite"},
		{"tune grey of no weight", func(o *Options) { o.ValidationSuite, o.TuneGrey = "v.yaml", []float64{0.5, 0} }, "config: tune_grey[1]: 0 is outside (0, 1]"},
		{"variants", func(o *Options) {
			o.Variants = model.Variants{Grey: true, Crops: []model.CropGrid{{Grid: 2, Side: 0.8}}}
		}, ""},
		{"variants in the model block", func(o *Options) { o.Model.Variants = &model.Variants{Grey: true} }, "config: model.variants: give the variants as variants"},
		{"aspect value", func(o *Options) { o.AspectWeight = 0.25 }, ""},
		{"aspect value too heavy", func(o *Options) { o.AspectWeight = 3 }, "aspect_weight: 3 is outside [0, 2]"},
		{"aspect value in the model block", func(o *Options) { o.Model.AspectWeight = 0.25 }, "config: model.aspect_weight: give it as aspect_weight"},
		{"variants of a crop too small", func(o *Options) { o.Variants = model.Variants{Crops: []model.CropGrid{{Grid: 2, Side: 0.3}}} }, "variants.crops[0]"},
		{"tune grey", func(o *Options) { o.ValidationSuite, o.TuneGrey = "v.yaml", []float64{0.25, 0.5} }, ""},
		{"tune thumbnail", func(o *Options) { o.ValidationSuite, o.TuneThumbnail.Weights = "v.yaml", []float64{0.1, 0.2} }, ""},
		{"tune thumbnail without a suite", func(o *Options) { o.TuneThumbnail.Weights = []float64{0.1} }, "config: tune_thumbnail: needs validation_suite"},
		{"tune thumbnail alone", func(o *Options) { o.ValidationSuite, o.TuneThumbnail.Weights = "v.yaml", []float64{0.1, 1} }, "config: tune_thumbnail.weights[1]: 1 is outside (0, 1)"},
		{"thumbnail", func(o *Options) { o.Thumbnail = model.Thumbnail{Side: 16, Weight: 0.3} }, ""},
		{"thumbnail without a weight", func(o *Options) { o.Thumbnail.Side = 16 }, "config: thumbnail.weight: 0 is outside (0, 1)"},
		{"thumbnail of the whole distance", func(o *Options) { o.Thumbnail = model.Thumbnail{Side: 16, Weight: 1} }, "config: thumbnail.weight: 1 is outside (0, 1)"},
		{"thumbnail and tune thumbnail", func(o *Options) {
			o.ValidationSuite, o.TuneThumbnail.Weights, o.Thumbnail = "v.yaml", []float64{0.1}, model.Thumbnail{Side: 16, Weight: 0.3}
		}, "config: thumbnail: is set and so is tune_thumbnail"},
		{"distill", func(o *Options) { o.Distill = Distill{Model: "teacher.drk", Weight: 1} }, ""},
		{"distill without a teacher", func(o *Options) { o.Distill.Weight = 1 }, "config: distill.model: a distill.weight of 1 needs the teacher's model file"},
		{"teacher without a weight", func(o *Options) { o.Distill.Model = "teacher.drk" }, "config: distill.weight: is 0, so the teacher teacher.drk would be ignored"},
		{"distill weight", func(o *Options) { o.Distill = Distill{Model: "teacher.drk", Weight: -1} }, "config: distill.weight: -1 is outside 0..100"},
		{"grayscale", func(o *Options) { o.Augment.Grayscale = 1.5 }, "config: augment.grayscale: 1.5 is outside [0, 1]"},
		{"skip", func(o *Options) { o.Augment.Skip = 1 }, "config: augment.skip: 1 is outside [0, 1)"},
		{"brightness shift", func(o *Options) { o.Augment.BrightnessShift = -0.1 }, "config: augment.brightness_shift: -0.1 is outside [0, 1)"},
		{"crop aspect", func(o *Options) { o.Augment.Crop, o.Augment.CropAspect = 0.3, 2 }, ""},
		{"crop aspect 1", func(o *Options) { o.Augment.Crop, o.Augment.CropAspect = 0.3, 1 }, ""},
		{"crop aspect 4", func(o *Options) { o.Augment.Crop, o.Augment.CropAspect = 0.3, 4 }, ""},
		{"crop aspect below 1", func(o *Options) { o.Augment.Crop, o.Augment.CropAspect = 0.3, 0.5 }, "config: augment.crop_aspect: 0.5 is outside 1..4 (or 0, square crops)"},
		{"crop aspect above 4", func(o *Options) { o.Augment.Crop, o.Augment.CropAspect = 0.3, 4.01 }, "config: augment.crop_aspect: 4.01 is outside 1..4"},
		{"crop aspect without crops", func(o *Options) { o.Augment.CropAspect = 2 }, "config: augment.crop_aspect: 2 shapes crops, but crop is 0 (no crops): set crop too"},
		{"augment size", func(o *Options) { o.AugmentSize = -1 }, "config: augment_size: -1 is outside 0..1024"},
		{"select by", func(o *Options) { o.SelectBy = "map" }, `config: select_by: "map" is not precision, recall1, loss or suite`},
		{"suite without a suite", func(o *Options) { o.SelectBy = "suite" }, "config: select_by: suite needs validation_suite"},
		{"suite", func(o *Options) { o.SelectBy, o.ValidationSuite = "suite", "validation.yaml" }, ""},
		{"instances without self positives", func(o *Options) {
			o.Data.Classes, o.Data.Mix = "", []ClassSource{{Classes: "c", Positives: 1, Negatives: 1, Instances: true}}
		}, "config: data.mix[0].instances: every image is its own class"},
		{"mix augment", func(o *Options) {
			o.Data.Classes = ""
			o.Data.Mix = []ClassSource{{Classes: "a", Positives: 1, Negatives: 1}, {Classes: "b", Positives: 1, Negatives: 1, Augment: &imageio.Augment{Crop: 0.4}}}
		}, ""},
		{"mix augment crop", func(o *Options) {
			o.Data.Classes = ""
			o.Data.Mix = []ClassSource{{Classes: "a", Positives: 1, Negatives: 1}, {Classes: "b", Positives: 1, Negatives: 1, Augment: &imageio.Augment{Crop: 1}}}
		}, "config: data.mix[1].augment.crop: 1 is outside [0, 1)"},
		{"instances", func(o *Options) {
			o.Data.Classes, o.Data.SelfPositives = "", true
			o.Data.Mix = []ClassSource{{Classes: "c", Positives: 1, Negatives: 1, Instances: true}}
		}, ""},
		{"groups", func(o *Options) {
			o.Data.Classes, o.Data.SelfPositives = "", true
			o.Data.Mix = []ClassSource{{Classes: "c", Positives: 1, Negatives: 1, Instances: true, Groups: "groups.tsv"}}
		}, ""},
		{"group positives without groups", func(o *Options) {
			o.Data.Classes, o.Data.SelfPositives = "", true
			o.Data.Mix = []ClassSource{{Classes: "c", Positives: 1, Negatives: 1, Instances: true, GroupPositives: 4}}
		}, "config: data.mix[0].group_positives: 4: give 0 (positives) or a count above 0 with groups"},
		{"groups without instances", func(o *Options) {
			o.Data.Classes = ""
			o.Data.Mix = []ClassSource{{Classes: "c", Positives: 1, Negatives: 1, Groups: "groups.tsv"}}
		}, "config: data.mix[0].groups: groups join instances into classes, so it needs instances: true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.edit(&o)
			err := o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, which does not match ErrInvalid", err)
			}
		})
	}
}
