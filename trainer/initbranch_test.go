package trainer

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestInitBranches checks that a branch starts from another model's branch
// layer by layer, that the file's layers the branch lacks are left out and
// nothing else of the model changes, and that each mistake in naming the
// branches gives an error that says what is wrong.
func TestInitBranches(t *testing.T) {
	pretrained, path := newModel(t, smallSpec(16), 7, true)
	spec := smallSpec(16)
	spec.PooledBackbones = []model.PooledBackbone{{Width: spec.Width, Stages: spec.Stages}}
	narrower := smallSpec(16)
	narrower.Width *= 2
	_, narrowerPath := newModel(t, narrower, 8, true)

	tests := []struct {
		name    string
		ib      trainconfig.InitBranch
		wantErr string
	}{
		{"backbone as pooled branch", trainconfig.InitBranch{Branch: "pooled1", Model: path, From: "convnet"}, ""},
		{"same branch", trainconfig.InitBranch{Branch: "shallow1", Model: path}, ""},
		{"unknown branch", trainconfig.InitBranch{Branch: "pooled2", Model: path, From: "convnet"},
			`config: init_branches[0]: the model has no branch "pooled2"; its branches are convnet, shallow1, shallow2, pooled1`},
		{"unknown branch in the file", trainconfig.InitBranch{Branch: "pooled1", Model: path},
			`config: init_branches[0]: ` + path + ` has no branch "pooled1"; its branches are convnet, shallow1, shallow2`},
		{"other width", trainconfig.InitBranch{Branch: "pooled1", Model: narrowerPath, From: "convnet"},
			"config: init_branches[0]: convnet.stage1_conv.w of " + narrowerPath + " has shape [8 3 3 3], pooled1.stage1_conv.w of the model [4 3 3 3]: the two branches must be built alike"},
		{"no layer in common", trainconfig.InitBranch{Branch: "shallow1", Model: path, From: "convnet"},
			"config: init_branches[0]: convnet of " + path + " and shallow1 of the model have no layer in common"},
		{"missing file", trainconfig.InitBranch{Branch: "pooled1", Model: path + ".missing", From: "convnet"},
			"config: init_branches[0]: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, spec, 1, false)
			before := m.Clone()
			a, err := spec.Arch()
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			err = initBranches(m, a, []trainconfig.InitBranch{tt.ib}, &log)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			from := tt.ib.From
			if from == "" {
				from = tt.ib.Branch
			}
			for name, w := range m.Weights {
				layer, ok := strings.CutPrefix(name, tt.ib.Branch+".")
				want := before.Weights[name]
				if ok {
					want = pretrained.Weights[from+"."+layer]
				}
				if !slices.Equal(w, want) {
					t.Errorf("%s: not the weights it should start from (taken: %v)", name, ok)
				}
			}
			if !strings.HasPrefix(log.String(), "init_branches[0]: "+tt.ib.Branch+" from "+from) {
				t.Errorf("log: %q", log.String())
			}
		})
	}
}

// TestTrainInitBranches checks that a run starts the branches that
// init_branches names, after init_weights, and says so.
func TestTrainInitBranches(t *testing.T) {
	o, path := grownOptions(t, mustClassImages(t, 3, 4))
	o.InitBranches = []trainconfig.InitBranch{{Branch: "pooled1", Model: path, From: "convnet"}}
	o.Epochs = 1
	var log bytes.Buffer
	if _, err := Train(context.Background(), o, &log, Fresh); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"init_branches[0]: pooled1 from convnet of " + path + ": 4 tensors taken (pooled1.stage1_conv.w pooled1.stage1_conv.b pooled1.stage2_conv.w pooled1.stage2_conv.b); left out of the file: convnet.fc1.w convnet.fc1.b convnet.fc2.w convnet.fc2.b\n",
		"initial model: ",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}

	o.InitBranches[0].From = "deep"
	_, err := Train(context.Background(), o, io.Discard, Restart)
	if want := `config: init_branches[0]: ` + path + ` has no branch "deep"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Train with an unknown branch: %v, want %q", err, want)
	}
}

// grownOptions are testOptions over root for the small spec grown by a
// pooled backbone (pooled1, built as its convnet), warm-started from a
// random model of the small spec, whose path it returns too.
func grownOptions(t testing.TB, root string) (trainconfig.Options, string) {
	_, path := newModel(t, smallSpec(16), 7, true)
	o := testOptions(t, root)
	o.Model.PooledBackbones = []model.PooledBackbone{{Width: o.Model.Width, Stages: o.Model.Stages}}
	o.InitWeights = path
	return o, path
}
