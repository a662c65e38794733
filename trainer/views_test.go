package trainer

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestTrainViews trains with train_views: every image embedded with its
// views, as inference embeds it (TestParity's "views" case checks that
// the graph's sum is model.Net's). The run trains, says so, and keeps the
// views in the model it writes; a spec without views is refused.
func TestTrainViews(t *testing.T) {
	root := mustClassImages(t, 3, 4)
	for _, c := range []struct {
		name    string
		centre  []float64
		grey    float64
		trim    float64
		loss    trainconfig.Loss
		shards  int
		wantLog string
		wantErr string
	}{
		{"centre and grey, triplet loss", []float64{0.8}, 0.5, 0, trainconfig.Triplet, 1, "its views (2: centre [0.8], grey 0.5, trimmed 0), 3 passes", ""},
		{"grey only, contrastive, two shards", nil, 1, 0, trainconfig.Contrastive, 2, "its views (1: centre [], grey 1, trimmed 0), 2 passes", ""},
		{"centre and trimmed, contrastive", []float64{0.85}, 0, 1.5, trainconfig.Contrastive, 1, "its views (2: centre [0.85], grey 0, trimmed 1.5), 3 passes", ""},
		{"no views", nil, 0, 0, trainconfig.Triplet, 1, "", "config: train_views: the model's spec has no views"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t, root)
			o.Epochs = 1
			o.Loss, o.BatchShards = c.loss, c.shards
			o.Model.CenterViews, o.Model.GreyView, o.Model.TrimView = c.centre, c.grey, c.trim
			o.TrainViews = true
			var log bytes.Buffer
			res, err := Train(context.Background(), o, &log, Fresh)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "train_views: each image embedded with "+c.wantLog) {
				t.Errorf("log lacks %q:\n%s", c.wantLog, log.String())
			}
			if l := res.History[0].TrainLoss; math.IsNaN(l) || l <= 0 {
				t.Errorf("training loss %g, want a positive number", l)
			}
			m, err := model.Load(o.Output)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Spec.CenterViews, c.centre) && len(c.centre)+len(m.Spec.CenterViews) > 0 || m.Spec.GreyView != c.grey || m.Spec.TrimView != c.trim {
				t.Errorf("the model's views are centre %v, grey %g, trimmed %g; want %v, %g, %g", m.Spec.CenterViews, m.Spec.GreyView, m.Spec.TrimView, c.centre, c.grey, c.trim)
			}
		})
	}
}
