package trainer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/model"
)

// tunedScaleMetric is the provenance metric that records the scale
// tuneHead chose, and so that a model was tuned.
const tunedScaleMetric = "tune_head_scale"

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
	var best *model.Model
	bestMean, bestScale := -1.0, 0.0
	for _, s := range t.Scales {
		m := kept.Clone()
		scaleHeadRows(m, a, t.Branches, float32(s))
		net, err := model.NewNet(m, &model.NetOptions{Workers: r.opts.Workers})
		if err != nil {
			return nil, err
		}
		mean := meanOf(r.suite.Recall1(net, m.Normalization))
		fmt.Fprintf(r.log, "tune_head: %s rows x%g: validation suite mean recall@1 %.4f\n", strings.Join(t.Branches, " "), s, mean)
		if mean > bestMean {
			best, bestMean, bestScale = m, mean, s
		}
	}
	if best.Provenance.Metrics == nil {
		best.Provenance.Metrics = map[string]float64{}
	}
	best.Provenance.Metrics[tunedScaleMetric] = bestScale
	best.Provenance.Metrics["suite_mean_recall1"] = bestMean
	if _, err := best.Save(r.opts.Output); err != nil {
		return nil, fmt.Errorf("tune_head: %w", err)
	}
	fmt.Fprintf(r.log, "tune_head: kept scale %g (validation suite mean recall@1 %.4f)\n", bestScale, bestMean)
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
