package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/model"
)

// The provenance metrics that record what tuneHead and tuneViews chose,
// and so that a model was tuned.
const (
	tunedScaleMetric = "tune_head_scale"
	tunedViewMetric  = "tune_views_center"
	tunedGreyMetric  = "tune_grey_weight"
	tunedThumbMetric = "tune_thumbnail_weight"
)

// tuneHead replaces the kept model (Options.Output) by its copy, among
// Options.TuneHead's scales of its head rows for TuneHead.Branches, with the
// best mean Recall@1 over the validation suite, and logs the mean at each.
// A model already tuned (a run resumed after it ended) is left as it is:
// tuning it again would compound the scales.
func (r *run) tuneHead(kept *model.Model) (*model.Model, error) {
	t := r.opts.TuneHead
	if len(t.Scales) == 0 {
		return kept, nil
	}
	if s, done := kept.Provenance.Metrics[tunedScaleMetric]; done {
		fmt.Fprintf(r.log, "tune_head: %s already tuned (scale %g)\n", r.opts.Output, s)
		return kept, nil
	}
	a, err := kept.Spec.Arch()
	if err != nil {
		return nil, err
	}
	label := func(s float64) string { return fmt.Sprintf("%s rows x%g", strings.Join(t.Branches, " "), s) }
	return r.keepBestOnSuite("tune_head", tunedScaleMetric, t.Scales, label, func(s float64) *model.Model {
		m := kept.Clone()
		scaleHeadRows(m, a, t.Branches, float32(s))
		return m
	})
}

// tuneViews replaces the kept model by its copy, without centre views or
// with one of Options.TuneViews, with the best mean Recall@1 over the
// validation suite (tuneView).
func (r *run) tuneViews(kept *model.Model) (*model.Model, error) {
	return r.tuneView(kept, "tune_views", tunedViewMetric, "centre view", r.opts.TuneViews, func(s *model.Spec, f float64) {
		s.CenterViews = nil
		if f > 0 {
			s.CenterViews = []float64{f}
		}
	})
}

// tuneGrey replaces the kept model by its copy, without a grey view or
// with one of Options.TuneGrey's weights, with the best mean Recall@1
// over the validation suite (tuneView).
func (r *run) tuneGrey(kept *model.Model) (*model.Model, error) {
	return r.tuneView(kept, "tune_grey", tunedGreyMetric, "grey view", r.opts.TuneGrey, func(s *model.Spec, w float64) {
		s.GreyView = w
	})
}

// setVariants gives the kept model Options.Variants and saves it to
// Options.Output; a model that has them is left as it is.
func (r *run) setVariants(kept *model.Model) (*model.Model, error) {
	want := r.opts.Variants
	if !want.Any() || kept.Spec.Variants != nil && sameVariants(*kept.Spec.Variants, want) {
		return kept, nil
	}
	return r.saveSpec(kept, "variants", func(s *model.Spec) { s.Variants = &want }, func(s model.Spec) string {
		return fmt.Sprintf("%d vectors an image stored (model.Spec.Variants)", s.PerItem())
	})
}

// setAspect gives the kept model Options.AspectWeight and saves it to
// Options.Output; a model that has it is left as it is.
func (r *run) setAspect(kept *model.Model) (*model.Model, error) {
	want := r.opts.AspectWeight
	if want == 0 || kept.Spec.AspectWeight == want {
		return kept, nil
	}
	return r.saveSpec(kept, "aspect_weight", func(s *model.Spec) { s.AspectWeight = want }, func(model.Spec) string {
		return fmt.Sprintf("an aspect value at weight %g ends each vector (model.Spec.AspectWeight)", want)
	})
}

// setThumbnail gives the kept model Options.Thumbnail and saves it to
// Options.Output; a model that has it is left as it is.
func (r *run) setThumbnail(kept *model.Model) (*model.Model, error) {
	want := r.opts.Thumbnail
	if want == (model.Thumbnail{}) || kept.Spec.Thumbnail != nil && *kept.Spec.Thumbnail == want {
		return kept, nil
	}
	return r.saveSpec(kept, "thumbnail", func(s *model.Spec) { s.Thumbnail = &want }, func(model.Spec) string {
		return fmt.Sprintf("%s at %g of the distance (model.Spec.Thumbnail)", want.Layout(), want.Weight)
	})
}

// saveSpec saves a copy of kept whose spec set changes to Options.Output,
// and logs it under step with what describes the new spec.
func (r *run) saveSpec(kept *model.Model, step string, set func(*model.Spec), what func(model.Spec) string) (*model.Model, error) {
	m := kept.Clone()
	set(&m.Spec)
	if _, err := m.Save(r.opts.Output); err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	fmt.Fprintf(r.log, "%s: %s, written to %s\n", step, what(m.Spec), r.opts.Output)
	return m, nil
}

// sameVariants reports whether a and b store the same vectors, as a model
// file records them: a list left out (a model's, from JSON) and an empty
// one (a configuration's default) are the same.
func sameVariants(a, b model.Variants) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// tuneThumbnail replaces the kept model by its copy, without a thumbnail
// or with one of Options.TuneThumbnail's weights, with the best mean
// Recall@1 over the validation suite (tuneView).
func (r *run) tuneThumbnail(kept *model.Model) (*model.Model, error) {
	t := r.opts.TuneThumbnail
	what := t.At(0).Layout() + " thumbnail"
	return r.tuneView(kept, "tune_thumbnail", tunedThumbMetric, what, t.Weights, func(s *model.Spec, w float64) {
		s.Thumbnail = nil
		if w > 0 {
			s.Thumbnail = t.At(w)
		}
	})
}

// tuneView chooses one inference view of the kept model under step: none
// (0) or each of values, set on a copy's spec by set, the best mean
// Recall@1 over the validation suite kept. The provenance's metric
// records the value kept, 0 for none; a model that records one is left as
// it is.
func (r *run) tuneView(kept *model.Model, step, metric, what string, values []float64, set func(*model.Spec, float64)) (*model.Model, error) {
	if len(values) == 0 {
		return kept, nil
	}
	if v, done := kept.Provenance.Metrics[metric]; done {
		fmt.Fprintf(r.log, "%s: %s already tuned (%s %g)\n", step, r.opts.Output, what, v)
		return kept, nil
	}
	label := func(v float64) string {
		if v == 0 {
			return "no " + what
		}
		return fmt.Sprintf("%s %g", what, v)
	}
	return r.keepBestOnSuite(step, metric, append([]float64{0}, values...), label, func(v float64) *model.Model {
		m := kept.Clone()
		set(&m.Spec, v)
		return m
	})
}

// keepBestOnSuite scores variant(v) for each of values on the validation
// suite, logging each mean under step and label(v), and saves the first
// with the best mean to Options.Output, with v as its provenance's metric.
func (r *run) keepBestOnSuite(step, metric string, values []float64, label func(float64) string, variant func(float64) *model.Model) (*model.Model, error) {
	var best *model.Model
	bestMean, bestValue := -1.0, 0.0
	for _, v := range values {
		m := variant(v)
		net, err := model.NewNet(m, &model.NetOptions{Workers: r.opts.Workers})
		if err != nil {
			return nil, err
		}
		mean := meanOf(r.suite.Recall1(net, m.Normalization))
		fmt.Fprintf(r.log, "%s: %s: validation suite mean recall@1 %.4f\n", step, label(v), mean)
		if mean > bestMean {
			best, bestMean, bestValue = m, mean, v
		}
	}
	if best.Provenance.Metrics == nil {
		best.Provenance.Metrics = map[string]float64{}
	}
	best.Provenance.Metrics[metric] = bestValue
	best.Provenance.Metrics["suite_mean_recall1"] = bestMean
	if _, err := best.Save(r.opts.Output); err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	fmt.Fprintf(r.log, "%s: kept %s (validation suite mean recall@1 %.4f)\n", step, label(bestValue), bestMean)
	return best, nil
}

// scaleHeadRows multiplies the rows of the head's first dense layer that
// the named branches of a feed by s, so that their part of every embedding
// is s times as large before the embedding is normalised.
func scaleHeadRows(m *model.Model, a model.Arch, branches []string, s float32) {
	head := a.Head[0]
	w := m.Weights[head.Name+".w"]
	out := head.Out.C
	for _, r := range headRows(a) {
		if slices.Contains(branches, r.name) {
			for i := r.at * out; i < (r.at+r.n)*out; i++ {
				w[i] *= s
			}
		}
	}
}

// meanOf is the mean of xs.
func meanOf(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}
