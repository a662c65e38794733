package trainer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// smallCheckpoint returns a small model and a state that fits it, with
// Adam buffers for one parameter.
func smallCheckpoint(t testing.TB) (*model.Model, checkpointState) {
	t.Helper()
	m, err := model.New(smallSpec(16), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(1)
	var name string
	for n := range m.Weights {
		name = n
		break
	}
	n := len(m.Weights[name])
	st := checkpointState{Epoch: 1, Step: 3, LossSum: 2.5, LossN: 3, BestEpoch: 1,
		Optimizer: optimizer{Kind: trainconfig.Adam, Step: 7,
			M: map[string][]float32{name: make([]float32, n)}, V: map[string][]float32{name: make([]float32, n)}}}
	return m, st
}

func TestCheckpointState(t *testing.T) {
	m, good := smallCheckpoint(t)
	dim := modelDim(t, m)
	var name string
	for n := range good.Optimizer.M {
		name = n
	}
	cases := []struct {
		name string
		edit func(st *checkpointState)
		want string // substring of the error; "" for none
	}{
		{"as saved", func(st *checkpointState) {}, ""},
		{"negative step", func(st *checkpointState) { st.Step = -1 }, "step -1"},
		{"negative epoch", func(st *checkpointState) { st.Epoch = -2 }, "epoch -2"},
		{"short buffer", func(st *checkpointState) { st.Optimizer.V = map[string][]float32{name: {1}} }, "has 1 values"},
		{"unknown parameter", func(st *checkpointState) { st.Optimizer.M = map[string][]float32{"nope.w": {1}} }, `"nope.w"`},
		{"with a memory", func(st *checkpointState) { st.Memory = filledMemory(dim) }, ""},
		{"a memory of another dim", func(st *checkpointState) { st.Memory = filledMemory(dim + 1) }, "rows of"},
		{"a memory past its end", func(st *checkpointState) { st.Memory = filledMemory(dim); st.Memory.Next = 9 }, "next 9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := good
			tc.edit(&st)
			path := filepath.Join(t.TempDir(), "checkpoint.drc")
			if err := saveCheckpoint(path, m, st); err != nil {
				t.Fatal(err)
			}
			got, _, err := loadCheckpoint(path)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("load: %v", err)
			case tc.want == "" && (got.Step != st.Step || got.Optimizer.Step != st.Optimizer.Step || fmt.Sprint(got.Memory) != fmt.Sprint(st.Memory)):
				t.Errorf("loaded state %+v, saved %+v", got, st)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "delete it")):
				t.Errorf("err = %v, want one naming %q and the way out", err, tc.want)
			}
		})
	}
}

// filledMemory is a memory of 5 rows of dim values with 4 remembered.
func filledMemory(dim int) memory {
	m := newMemory(5, dim)
	emb := make([]float32, 4*dim)
	for i := range emb {
		emb[i] = float32(i)
	}
	m.remember(emb, []int{3, 1, 4, 1}, []string{"a", "b", "c", "b"}, 99)
	return m
}

func modelDim(t testing.TB, m *model.Model) int {
	t.Helper()
	a, err := m.Spec.Arch()
	if err != nil {
		t.Fatal(err)
	}
	return a.Dim()
}

// FuzzLoadCheckpoint reads damaged checkpoint files: an error, or a state a
// resumed run can use, checked here against the model's parameter list
// (not with checkpointState.check, which a fuzz target must not trust), and
// that saves and loads back the same.
func FuzzLoadCheckpoint(f *testing.F) {
	m, st := smallCheckpoint(f)
	var name string
	for n := range st.Optimizer.M {
		name = n
	}
	encode := func(st checkpointState) []byte {
		path := filepath.Join(f.TempDir(), "checkpoint.drc")
		if err := saveCheckpoint(path, m, st); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		return data
	}
	data := encode(st)
	f.Add(data)
	f.Add(data[:len(data)/2])
	for _, edit := range []func(*checkpointState){
		func(st *checkpointState) { st.Optimizer.V = map[string][]float32{name: {1}} },
		func(st *checkpointState) { st.Optimizer.M = map[string][]float32{"nope.w": {1}} },
		func(st *checkpointState) { st.BestEpoch = -1 },
		func(st *checkpointState) { st.Memory = filledMemory(modelDim(f, m)) },
		func(st *checkpointState) { st.Memory = filledMemory(modelDim(f, m)); st.Memory.Next = 5 },
		func(st *checkpointState) { st.Memory = filledMemory(modelDim(f, m)); st.Memory.Seeds = nil },
	} {
		bad := st
		edit(&bad)
		f.Add(encode(bad))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "checkpoint.drc")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, m, err := loadCheckpoint(path)
		if err != nil {
			return
		}
		a, err := m.Spec.Arch()
		if err != nil {
			t.Fatalf("loaded a model whose spec has no network: %v", err)
		}
		sizes := map[string]int{}
		for _, p := range a.Params() {
			n := 1
			for _, d := range p.Shape {
				n *= d
			}
			sizes[p.Name] = n
		}
		for _, buffers := range []map[string][]float32{st.Optimizer.M, st.Optimizer.V} {
			for name, b := range buffers {
				if n, ok := sizes[name]; !ok || len(b) != n {
					t.Fatalf("loaded an optimizer buffer %q of %d values; the model's parameter has %d", name, len(b), n)
				}
			}
		}
		if mem := st.Memory; mem.rows() > 0 && (mem.Dim != a.Dim() || len(mem.Emb) != mem.rows()*mem.Dim ||
			len(mem.Paths) != mem.rows() || len(mem.Seeds) != mem.rows() || len(mem.Slots) != mem.rows() || mem.Next < 0 || mem.Next >= mem.rows()) {
			t.Fatalf("loaded a memory of %d rows of %d values (%d values, %d paths, %d seeds, %d slots, next %d) for a model of %d",
				mem.rows(), mem.Dim, len(mem.Emb), len(mem.Paths), len(mem.Seeds), len(mem.Slots), mem.Next, a.Dim())
		}
		if min(st.Epoch, st.Step, st.LossN, st.BestEpoch, st.Optimizer.Step) < 0 {
			t.Fatalf("loaded negative counters: epoch %d, step %d, loss count %d, best epoch %d, optimizer step %d",
				st.Epoch, st.Step, st.LossN, st.BestEpoch, st.Optimizer.Step)
		}
		again := filepath.Join(t.TempDir(), "again.drc")
		if err := saveCheckpoint(again, m, st); err != nil {
			t.Fatal(err)
		}
		// fmt prints maps sorted and NaN as NaN, where DeepEqual has NaN != NaN.
		if st2, _, err := loadCheckpoint(again); err != nil || fmt.Sprint(st2) != fmt.Sprint(st) {
			t.Fatalf("saved and loaded again: %+v, %v; want %+v", st2, err, st)
		}
	})
}
