package trainer

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestTrainTuneHead trains a grown model twice, without and with tune_head:
// the tuned model must be the untuned one with the new branch's head rows,
// and only those, times the scale of the best logged suite mean; a resumed
// run that has ended must not tune it again; and a misnamed branch must
// stop the run before it trains.
func TestTrainTuneHead(t *testing.T) {
	root := mustClassImages(t, 3, 4)
	o, _ := grownOptions(t, root)
	o.ValidationSuite, o.SelectBy = testSuite(t, root, mustClassImages(t, 3, 2)), "suite"
	untuned, err := Train(context.Background(), o, io.Discard, Fresh)
	if err != nil {
		t.Fatal(err)
	}

	o.TuneHead = trainconfig.TuneHead{Branches: []string{"pooled1"}, Scales: []float64{0.25, 1, 3}}
	dir := t.TempDir()
	o.Output, o.RunDir = filepath.Join(dir, "model.drk"), filepath.Join(dir, "run")
	var log bytes.Buffer
	tuned, err := Train(context.Background(), o, &log, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	logged := regexp.MustCompile(`tune_head: pooled1 rows x(\S+): validation suite mean recall@1 (\S+)\n`).FindAllStringSubmatch(log.String(), -1)
	if len(logged) != 3 {
		t.Fatalf("log has %d tune_head scores, want 3:\n%s", len(logged), log.String())
	}
	wantScale, bestMean := 0.0, -1.0
	for _, l := range logged {
		s, _ := strconv.ParseFloat(l[1], 64)
		mean, _ := strconv.ParseFloat(l[2], 64)
		if mean > bestMean {
			wantScale, bestMean = s, mean
		}
	}
	scale := tuned.Model.Provenance.Metrics[tunedScaleMetric]
	if scale != wantScale {
		t.Errorf("kept scale %g, but %g has the first best mean:\n%s", scale, wantScale, log.String())
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
	if again.Version != tuned.Version || !strings.Contains(log.String(), "already tuned") {
		t.Errorf("a resumed run that had ended tuned again: version %s, was %s:\n%s", again.Version, tuned.Version, log.String())
	}

	o.TuneHead.Branches = []string{"pooled2"}
	o.RunDir = filepath.Join(t.TempDir(), "run")
	_, err = Train(context.Background(), o, io.Discard, Fresh)
	if want := `config: tune_head: the model has no branch "pooled2"; its branches are convnet, shallow1, shallow2, pooled1`; err == nil || err.Error() != want {
		t.Errorf("Train with an unknown branch: %v, want %q", err, want)
	}
}
