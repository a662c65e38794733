package trainer

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestTrainTune trains a grown model twice, without and with tune_head,
// tune_views and tune_grey: the tuned model must be the untuned one with
// the new branch's head rows, and only those, times the scale of the best
// logged suite mean, and with the centre view and then the grey view of
// the best logged means after that; a resumed run that has ended must not tune it again; and a
// misnamed branch must stop the run before it trains.
func TestTrainTune(t *testing.T) {
	root := mustClassImages(t, 3, 4)
	o, _ := grownOptions(t, root)
	o.ValidationSuite, o.SelectBy = testSuite(t, root, mustClassImages(t, 3, 2)), "suite"
	untuned, err := Train(context.Background(), o, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}

	o.TuneHead = trainconfig.TuneHead{Branches: []string{"pooled1"}, Scales: []float64{0.25, 1, 3}}
	o.TuneViews = []float64{0.5, 0.8}
	o.TuneGrey = []float64{0.5}
	dir := t.TempDir()
	o.Output, o.RunDir = filepath.Join(dir, "model.drk"), filepath.Join(dir, "run")
	var log bytes.Buffer
	tuned, err := Train(context.Background(), o, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	scale := tuned.Model.Provenance.Metrics[tunedScaleMetric]
	if want := bestLogged(t, log.String(), `tune_head: pooled1 rows x(\S+)`, 3); scale != want {
		t.Errorf("kept scale %g, but %g has the first best mean:\n%s", scale, want, log.String())
	}
	view := tuned.Model.Provenance.Metrics[tunedViewMetric]
	if want := bestLogged(t, log.String(), `tune_views: (?:centre view (\S+)|no centre view)`, 3); view != want {
		t.Errorf("kept centre view %g, but %g has the first best mean:\n%s", view, want, log.String())
	}
	if views := tuned.Model.Spec.CenterViews; view == 0 && len(views) != 0 || view != 0 && !slices.Equal(views, []float64{view}) {
		t.Errorf("the tuned model's centre views are %v, want the kept %g", views, view)
	}
	grey := tuned.Model.Provenance.Metrics[tunedGreyMetric]
	if want := bestLogged(t, log.String(), `tune_grey: (?:grey view (\S+)|no grey view)`, 2); grey != want {
		t.Errorf("kept grey view weight %g, but %g has the first best mean:\n%s", grey, want, log.String())
	}
	if got := tuned.Model.Spec.GreyView; got != grey {
		t.Errorf("the tuned model's grey view weight is %g, want the kept %g", got, grey)
	}

	a, err := tuned.Model.Spec.Arch()
	if err != nil {
		t.Fatal(err)
	}
	rows := headRows(a)
	pooled := rows[len(rows)-1] // the pooled backbone comes last
	out := a.Head[0].Out.C
	lo, hi := pooled.at*out, (pooled.at+pooled.n)*out
	for name, w := range untuned.Model.Weights {
		want := w
		if name == "embedding.w" {
			if !slices.ContainsFunc(w[lo:hi], func(v float32) bool { return v != 0 }) {
				t.Fatal("pooled1's head rows are zero after training: scaling them would test nothing")
			}
			want = slices.Clone(w)
			for i := lo; i < hi; i++ {
				want[i] *= float32(scale)
			}
		}
		if !slices.Equal(tuned.Model.Weights[name], want) {
			t.Errorf("%s: not the untuned model's with pooled1's rows times %g", name, scale)
		}
	}
	onDisk, err := model.Load(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := onDisk.Version(); v != tuned.Version {
		t.Errorf("%s holds version %s, the run returned %s", o.Output, v, tuned.Version)
	}

	log.Reset()
	again, err := Train(context.Background(), o, &log, Resume)
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != tuned.Version || strings.Count(log.String(), "already tuned") != 3 {
		t.Errorf("a resumed run that had ended tuned again: version %s, was %s:\n%s", again.Version, tuned.Version, log.String())
	}

	o.TuneHead.Branches = []string{"pooled2"}
	o.RunDir = filepath.Join(t.TempDir(), "run")
	_, err = Train(context.Background(), o, io.Discard, Fresh)
	if want := `config: tune_head: the model has no branch "pooled2"; its branches are convnet, shallow1, shallow2, pooled1`; err == nil || err.Error() != want {
		t.Errorf("Train with an unknown branch: %v, want %q", err, want)
	}
}

// bestLogged finds the n lines of a tuning step in log, each the step's
// choice (the pattern, whose group is the value tried; an empty group is
// 0) and the mean it scored, and returns the value of the first best mean.
func bestLogged(t *testing.T, log, choice string, n int) float64 {
	t.Helper()
	logged := regexp.MustCompile(choice+`: validation suite mean recall@1 (\S+)\n`).FindAllStringSubmatch(log, -1)
	if len(logged) != n {
		t.Fatalf("log has %d lines of %q, want %d:\n%s", len(logged), choice, n, log)
	}
	best, bestMean := 0.0, -1.0
	for _, l := range logged {
		v, _ := strconv.ParseFloat(l[1], 64)
		mean, _ := strconv.ParseFloat(l[2], 64)
		if mean > bestMean {
			best, bestMean = v, mean
		}
	}
	return best
}

// TestTuneOnly tunes a trained model with epochs 0: the run must train
// nothing (no epoch logged, every weight the starting model's) and still
// choose the grey view of the best logged suite mean.
func TestTuneOnly(t *testing.T) {
	root := mustClassImages(t, 3, 4)
	o, _ := grownOptions(t, root)
	o.ValidationSuite, o.SelectBy = testSuite(t, root, mustClassImages(t, 3, 2)), "suite"
	o.Epochs = 1
	trained, err := Train(context.Background(), o, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	o.InitModel, o.InitWeights = o.Output, ""
	o.Output, o.RunDir = filepath.Join(dir, "model.drk"), filepath.Join(dir, "run")
	o.Epochs, o.TuneGrey = 0, []float64{0.5, 1}
	o.TuneThumbnail = trainconfig.TuneThumbnail{Side: 4, Fold: true, Weights: []float64{0.2, 0.5}}
	o.Variants = model.Variants{Grey: true, Crops: []model.CropGrid{{Grid: 1, Side: 0.7}}}
	o.AspectWeight = 0.25
	var log bytes.Buffer
	tuned, err := Train(context.Background(), o, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "epoch 1/") {
		t.Errorf("epochs 0 trained:\n%s", log.String())
	}
	for name, w := range trained.Model.Weights {
		if !slices.Equal(tuned.Model.Weights[name], w) {
			t.Errorf("%s: changed by a run of 0 epochs", name)
		}
	}
	grey := tuned.Model.Provenance.Metrics[tunedGreyMetric]
	if want := bestLogged(t, log.String(), `tune_grey: (?:grey view (\S+)|no grey view)`, 3); grey != want || tuned.Model.Spec.GreyView != want {
		t.Errorf("kept grey view %g (spec %g), but %g has the first best mean:\n%s", grey, tuned.Model.Spec.GreyView, want, log.String())
	}
	weight := tuned.Model.Provenance.Metrics[tunedThumbMetric]
	// The log names the side and the fold of every thumbnail tried.
	if want := bestLogged(t, log.String(), `tune_thumbnail: (?:folded 4x4 thumbnail (\S+)|no folded 4x4 thumbnail)`, 3); weight != want || thumbnailWeight(tuned.Model) != want {
		t.Errorf("kept thumbnail weight %g (spec %+v), but %g has the first best mean:\n%s", weight, tuned.Model.Spec.Thumbnail, want, log.String())
	}
	saved, err := model.Load(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	if th := tuned.Model.Spec.Thumbnail; th != nil && (th.Side != 4 || !th.Fold) {
		t.Errorf("tuned thumbnail %+v, want side 4, folded", th)
	}
	if !reflect.DeepEqual(saved.Spec.Thumbnail, tuned.Model.Spec.Thumbnail) {
		t.Errorf("saved thumbnail %+v, returned %+v", saved.Spec.Thumbnail, tuned.Model.Spec.Thumbnail)
	}
	if !reflect.DeepEqual(saved.Spec.Variants, &o.Variants) || !reflect.DeepEqual(tuned.Model.Spec.Variants, &o.Variants) || saved.Spec.GreyView != tuned.Model.Spec.GreyView {
		t.Errorf("saved variants %+v, returned %+v, want %+v on the tuned model", saved.Spec.Variants, tuned.Model.Spec.Variants, o.Variants)
	}
	if saved.Spec.AspectWeight != 0.25 || tuned.Model.Spec.AspectWeight != 0.25 {
		t.Errorf("saved aspect weight %g, returned %g, want 0.25", saved.Spec.AspectWeight, tuned.Model.Spec.AspectWeight)
	}
}

// TestSetThumbnail: a run given a thumbnail saves the kept model with it,
// its weights untouched, and leaves a model that has it as it is.
func TestSetThumbnail(t *testing.T) {
	root := mustClassImages(t, 3, 2)
	o, _ := grownOptions(t, root)
	o.Epochs = 0
	o.Thumbnail = model.Thumbnail{Side: 4, Weight: 0.3}
	var log bytes.Buffer
	res, err := Train(context.Background(), o, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := model.Load(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*model.Model{res.Model, saved} {
		if !reflect.DeepEqual(m.Spec.Thumbnail, &o.Thumbnail) {
			t.Errorf("thumbnail %+v, want %+v", m.Spec.Thumbnail, o.Thumbnail)
		}
	}
	if !strings.Contains(log.String(), "thumbnail: 4x4 at 0.3 of the distance") {
		t.Errorf("the log does not say the thumbnail was set:\n%s", log.String())
	}
	plain := o
	plain.Thumbnail = model.Thumbnail{}
	plain.Output, plain.RunDir = filepath.Join(t.TempDir(), "model.drk"), filepath.Join(t.TempDir(), "run")
	without, err := Train(context.Background(), plain, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(saved.Weights, without.Model.Weights) {
		t.Error("the weights differ from those of the same run without a thumbnail")
	}

	// A model that has the thumbnail already is left as it is.
	again := o
	again.InitModel, again.InitWeights = o.Output, ""
	again.Output, again.RunDir = filepath.Join(t.TempDir(), "model.drk"), filepath.Join(t.TempDir(), "run")
	log.Reset()
	kept, err := Train(context.Background(), again, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "thumbnail: 4x4") || !reflect.DeepEqual(kept.Model.Spec.Thumbnail, &o.Thumbnail) {
		t.Errorf("a model with the thumbnail given: thumbnail %+v, log:\n%s", kept.Model.Spec.Thumbnail, log.String())
	}
}

// thumbnailWeight is m's thumbnail weight, 0 for none.
func thumbnailWeight(m *model.Model) float64 {
	if t := m.Spec.Thumbnail; t != nil {
		return t.Weight
	}
	return 0
}

// TestTrainKeepsThumbnail fine-tunes a model with a thumbnail: training
// must not see it (the weights, the held-out metrics and the mining are
// those of the same run from the model without one) and the model trained
// must keep it.
func TestTrainKeepsThumbnail(t *testing.T) {
	root := mustClassImages(t, 3, 4)
	o, _ := grownOptions(t, root)
	o.Epochs = 1
	start, err := Train(context.Background(), o, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	thumb := &model.Thumbnail{Side: 4, Weight: 0.3}
	withThumb := start.Model.Clone()
	withThumb.Spec.Thumbnail = thumb
	run := func(init *model.Model) *Result {
		dir := t.TempDir()
		path := filepath.Join(dir, "init.drk")
		if _, err := init.Save(path); err != nil {
			t.Fatal(err)
		}
		o := o
		o.InitModel, o.InitWeights = path, ""
		o.Output, o.RunDir = filepath.Join(dir, "model.drk"), filepath.Join(dir, "run")
		o.Mining = trainconfig.Hard
		res, err := Train(context.Background(), o, io.Discard, Fresh)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	plain, thumbed := run(start.Model), run(withThumb)
	if !reflect.DeepEqual(thumbed.Model.Spec.Thumbnail, thumb) {
		t.Errorf("trained model's thumbnail %+v, want %+v kept", thumbed.Model.Spec.Thumbnail, thumb)
	}
	for name, w := range plain.Model.Weights {
		if !slices.Equal(thumbed.Model.Weights[name], w) {
			t.Errorf("%s: trained differently with a thumbnail", name)
		}
	}
	untimed := func(h []EpochMetrics) []EpochMetrics {
		h = slices.Clone(h)
		for i := range h {
			h[i].Seconds, h[i].TripletsPerSec = 0, 0
		}
		return h
	}
	if !reflect.DeepEqual(untimed(plain.History), untimed(thumbed.History)) {
		t.Errorf("held-out metrics with a thumbnail %+v, want %+v", thumbed.History, plain.History)
	}
}

// TestTeacherIgnoresThumbnail: a distillation teacher with a thumbnail
// pulls towards its learned embedding, the same targets as without one.
func TestTeacherIgnoresThumbnail(t *testing.T) {
	classes := mustClassImages(t, 3, 2)
	teacher, plainPath := newModel(t, smallSpec(16), 7, true)
	thumbed := teacher.Clone()
	thumbed.Spec.Thumbnail = &model.Thumbnail{Side: 4, Weight: 0.5}
	thumbedPath := filepath.Join(t.TempDir(), "thumbed.drk")
	if _, err := thumbed.Save(thumbedPath); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, classes)
	r := prepareRun(t, o)
	var paths []string
	for p := range r.filler.cache {
		paths = append(paths, p)
	}
	targets := func(path string) []float32 {
		tc, err := newTeacher(path, o.Model.EmbeddingDim, r.filler.cache, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(paths)*o.Model.EmbeddingDim)
		tc.targets(paths, out)
		return out
	}
	if plain, got := targets(plainPath), targets(thumbedPath); !slices.Equal(plain, got) {
		t.Errorf("a teacher with a thumbnail gives other targets than without")
	}
}

// TestSameVariants: a list a model file leaves out and a configuration's
// empty one are the same variants; any vector more or less is not.
func TestSameVariants(t *testing.T) {
	grid := []model.CropGrid{{Grid: 2, Side: 0.8}}
	for _, tc := range []struct {
		name string
		a, b model.Variants
		want bool
	}{
		{"nil and empty lists", model.Variants{Grey: true}, model.Variants{Grey: true, Rotations: []float64{}, Crops: []model.CropGrid{}}, true},
		{"the same", model.Variants{Mirror: true, Rotations: []float64{-10, 10}, Crops: grid}, model.Variants{Mirror: true, Rotations: []float64{-10, 10}, Crops: grid}, true},
		{"a rotation more", model.Variants{Grey: true}, model.Variants{Grey: true, Rotations: []float64{10}}, false},
		{"another angle", model.Variants{Rotations: []float64{-10, 10}}, model.Variants{Rotations: []float64{-8, 8}}, false},
		{"no mirror", model.Variants{Mirror: true, Crops: grid}, model.Variants{Crops: grid}, false},
	} {
		if got := sameVariants(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: sameVariants = %v, want %v", tc.name, got, tc.want)
		}
	}
}
