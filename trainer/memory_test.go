package trainer

import (
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// TestMemoryRemember remembers more images than the memory holds, so that
// it wraps, and checks what each row keeps.
func TestMemoryRemember(t *testing.T) {
	m := newMemory(3, 2)
	if !slices.Equal(m.Labels, []int{-1, -1, -1}) {
		t.Fatalf("a new memory's labels %v, want all empty", m.Labels)
	}
	m.remember([]float32{1, 1, 2, 2}, []int{7, 8}, []string{"a", "b"}, 100)
	m.remember([]float32{3, 3, 4, 4}, []int{9, 7}, []string{"c", "a"}, 200) // the fourth overwrites the first
	checks := []struct {
		name      string
		got, want any
	}{
		{"embeddings", m.Emb, []float32{4, 4, 2, 2, 3, 3}},
		{"labels", m.Labels, []int{7, 8, 9}},
		{"paths", m.Paths, []string{"a", "b", "c"}},
		{"seeds", m.Seeds, []uint64{200, 100, 200}},
		{"slots", m.Slots, []int{1, 1, 0}},
		{"next row", m.Next, 1},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestMineNegativesFromMemory mines one triplet's negative among the batch
// and a memory, on one-dimensional embeddings: the query at 0, its
// positive at 1 (squared distance 1).
func TestMineNegativesFromMemory(t *testing.T) {
	none := negative{-1, -1}
	cases := []struct {
		name   string
		mode   trainconfig.Mining
		batchN float32   // the negative drawn, in the batch
		mem    []float32 // the memory's rows; their classes are 20, 21, ...
		query  int       // the query's class, when a row shares it
		want   negative
	}{
		{"a harder row in the memory", trainconfig.SemiHard, 3, []float32{2, 5}, 0, negative{-1, 0}},
		{"the batch's is harder", trainconfig.SemiHard, 1.2, []float32{2, 5}, 0, negative{2, -1}},
		// Semi-hard skips rows nearer than the positive, when any is farther.
		{"semi-hard skips the nearest", trainconfig.SemiHard, 3, []float32{0.5, 2}, 0, negative{-1, 1}},
		{"hard takes the nearest", trainconfig.Hard, 3, []float32{0.5, 2}, 0, negative{-1, 0}},
		{"a row of the query's class is no negative", trainconfig.Hard, 3, []float32{0.5, 2}, 20, negative{-1, 1}},
		{"an empty memory", trainconfig.SemiHard, 3, nil, 0, negative{2, -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const b, per = 1, 2 // one triplet, images of two values
			query := 10
			if tc.query != 0 {
				query = tc.query
			}
			labels := []int{query, query, 11}
			emb := []float32{0, 1, tc.batchN}
			x := []float32{0, 0, 1, 1, 2, 2} // each slot's input
			mem := newMemory(4, 1)
			for r, v := range tc.mem {
				mem.remember([]float32{v}, []int{20 + r}, []string{"m"}, uint64(r))
			}
			view := func(row int, dst []float32) {
				for k := range dst {
					dst[k] = float32(100 + row)
				}
			}
			got := mineNegatives(emb, 1, x, labels, b, tc.mode, &mem, view, 0)
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("mined %v, want [%v]", got, tc.want)
			}
			wantX := []float32{2, 2}
			switch {
			case tc.want.row >= 0:
				wantX = []float32{float32(100 + tc.want.row), float32(100 + tc.want.row)}
			case tc.want != none && tc.want.slot != 2:
				wantX = x[tc.want.slot*per : (tc.want.slot+1)*per]
			}
			if !slices.Equal(x[2*per:], wantX) {
				t.Errorf("the negative's input %v, want %v", x[2*per:], wantX)
			}
		})
	}
}

// TestMemoryView remembers a batch and draws each remembered image again:
// it must be the very input the batch held in that slot.
func TestMemoryView(t *testing.T) {
	classes := mustClassImages(t, 3, 2)
	o := testOptions(t, classes)
	o.Augment.Rotation, o.Augment.HorizontalFlip = 10, true
	r := prepareRun(t, o)
	ts := r.src.epochTriplets(o, 0)
	batch := make([]dataset.Triplet, o.BatchSize)
	for i := range batch {
		batch[i] = ts[i%len(ts)]
	}
	const seed = 12345
	r.filler.fill(batch, r.x, r.augmentFor, seed)
	b := len(batch)
	labels := r.src.batchLabels(batch)
	mem := newMemory(3*b, r.net.Dim())
	mem.remember(r.net.Forward(r.x, 3*b), labels, slotPaths(batch), seed)
	per := len(r.x) / (3 * b)
	got := make([]float32, per)
	for slot := range 3 * b {
		held := r.x[slot*per : (slot+1)*per]
		model.ToTensor(mem.view(r.filler, slot, r.augmentFor), r.filler.norm, got)
		if !slices.Equal(got, held) {
			t.Errorf("row %d (%s) drawn again differs from the batch's slot %d", slot, mem.Paths[slot], slot)
		}
	}
}

func TestMemoryCheck(t *testing.T) {
	good := newMemory(4, 2)
	good.remember([]float32{1, 2}, []int{5}, []string{"a.png"}, 7)
	known := func(path string, label int) bool { return path == "a.png" && label == 5 }
	cases := []struct {
		name      string
		edit      func(m *memory)
		rows, dim int
		want      string // substring of the error; "" for none
	}{
		{"as made", func(m *memory) {}, 4, 2, ""},
		{"another size asked", func(m *memory) {}, 8, 2, "a mining memory of 4 rows of 2 values"},
		{"another dim asked", func(m *memory) {}, 4, 3, "not 4 rows of 3"},
		{"next past the end", func(m *memory) { m.Next = 4 }, 4, 2, "next 4"},
		{"next negative", func(m *memory) { m.Next = -1 }, 4, 2, "next -1"},
		{"short embeddings", func(m *memory) { m.Emb = m.Emb[:7] }, 4, 2, "7 values"},
		{"short paths", func(m *memory) { m.Paths = m.Paths[:3] }, 4, 2, "3 paths"},
		{"a bad class", func(m *memory) { m.Labels[2] = -3 }, 4, 2, "class -3"},
		{"a bad slot", func(m *memory) { m.Slots[0] = -1 }, 4, 2, "slot -1"},
		{"an image the run lacks", func(m *memory) { m.Paths[0] = "gone.png" }, 4, 2, `"gone.png" of class 5`},
		{"another class", func(m *memory) { m.Labels[0] = 6 }, 4, 2, `"a.png" of class 6`},
		{"an embedding not a number", func(m *memory) { m.Emb[1] = float32(math.NaN()) }, 4, 2, "holds NaN"},
		{"an infinite embedding", func(m *memory) { m.Emb[6] = float32(math.Inf(-1)) }, 4, 2, "holds -Inf"},
		{"no rows", func(m *memory) { *m = memory{Dim: 2} }, 0, 2, "0 rows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			m.Labels, m.Emb, m.Paths, m.Seeds, m.Slots = slices.Clone(good.Labels), slices.Clone(good.Emb), slices.Clone(good.Paths), slices.Clone(good.Seeds), slices.Clone(good.Slots)
			tc.edit(&m)
			err := m.check(tc.rows, tc.dim, known)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestLoadMinesMemory loads batches of a run that mines a memory of one
// batch's images, so that every step overwrites every row: the first
// step mines the batch alone (the memory is empty), later ones take
// negatives from the memory too, each a row of another class than its
// query, and the loss is given the class that row held when it was mined.
func TestLoadMinesMemory(t *testing.T) {
	classes := mustClassImages(t, 4, 6)
	o := testOptions(t, classes)
	o.Loss, o.MiningMemory = trainconfig.Contrastive, 3*testOptions(t, classes).BatchSize
	r := prepareRun(t, o)
	if err := r.setupMemory(r.filler.cache); err != nil {
		t.Fatal(err)
	}
	ts := r.src.epochTriplets(o, 0)
	b := o.BatchSize
	batch := make([]dataset.Triplet, b)
	remembered := 0
	for step := range 6 {
		for i := range batch {
			batch[i] = ts[(step*b+i)%len(ts)]
		}
		before := slices.Clone(r.state.Memory.Labels)
		mined := r.load(batch, seedFor(o.Seed, 0, step))
		labels := r.src.batchLabels(batch)
		for i, n := range mined {
			if n.row < 0 {
				continue
			}
			if step == 0 {
				t.Errorf("step 0 mined row %d of an empty memory", n.row)
			}
			remembered++
			if before[n.row] == labels[i] || r.labels[2*b+i] != before[n.row] {
				t.Errorf("step %d: triplet %d (class %d) mined row %d of class %d; the loss was given class %d",
					step, i, labels[i], n.row, before[n.row], r.labels[2*b+i])
			}
		}
		if !slices.Equal(r.state.Memory.Labels, labels) {
			t.Errorf("step %d: the memory holds the classes %v after the step, want the batch's %v", step, r.state.Memory.Labels, labels)
		}
	}
	if remembered == 0 {
		t.Error("no negative was mined from the memory in 6 steps")
	}
	t.Logf("%d of %d negatives mined from the memory", remembered, 6*b)
}

// TestSetupMemory resumes runs whose checkpoint's memory fits the options
// or not: a fitting memory is kept, one of another size is replaced by
// an empty one of the options' size (and the log says so), and one that
// holds images the run does not train on is refused.
func TestSetupMemory(t *testing.T) {
	classes := mustClassImages(t, 3, 4)
	o := testOptions(t, classes)
	base := prepareRun(t, o)
	dim := base.arch.Dim()
	var path string
	for _, p := range base.src.parts {
		path = p.set.Paths[0]
	}
	label := base.src.labels[path]
	filled := func(n int, path string) memory {
		m := newMemory(n, dim)
		m.remember(make([]float32, dim), []int{label}, []string{path}, 1)
		return m
	}
	cases := []struct {
		name    string
		options int    // mining_memory
		saved   memory // the checkpoint's
		rows    int    // the memory after setup
		kept    bool   // the checkpoint's memory kept
		log     string // substring of the log; "" for none
		err     string // substring of the error; "" for none
	}{
		{"none asked, none saved", 0, memory{}, 0, false, "", ""},
		{"a fitting memory", 8, filled(8, path), 8, true, "", ""},
		{"another size", 16, filled(8, path), 16, false, "held 8 images, the options ask for 16", ""},
		{"a memory dropped", 0, filled(8, path), 0, false, "held 8 images, the options ask for 0", ""},
		{"none saved in a resumed run", 8, memory{}, 8, false, "held 0 images, the options ask for 8", ""},
		{"an image the run lacks", 8, filled(8, "elsewhere/x.png"), 0, false, "", `"elsewhere/x.png"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			r := &run{opts: o, log: &log, arch: base.arch, src: base.src}
			r.opts.MiningMemory = tc.options
			r.state.Step = 3 // resumed
			r.state.Memory = tc.saved
			err := r.setupMemory(base.filler.cache)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "mining_memory") {
					t.Fatalf("err = %v, want one naming mining_memory and %s", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			mem := r.state.Memory
			if mem.rows() != tc.rows || (tc.kept && mem.Paths[0] != path) || (!tc.kept && mem.rows() > 0 && mem.Labels[0] != -1) {
				t.Errorf("memory of %d rows (first %q, class %d), want %d rows, kept %v", mem.rows(), mem.Paths[0:min(1, mem.rows())], mem.Labels[0:min(1, mem.rows())], tc.rows, tc.kept)
			}
			if got := log.String(); (tc.log == "") != (got == "") || !strings.Contains(got, tc.log) {
				t.Errorf("log %q, want %q", got, tc.log)
			}
		})
	}
}

// TestSaveAfterStep checks that a checkpoint written after a step resumes
// at the next one, and leaves the run's own count alone.
func TestSaveAfterStep(t *testing.T) {
	classes := mustClassImages(t, 3, 4)
	r := prepareRun(t, testOptions(t, classes))
	if err := os.MkdirAll(r.opts.RunDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.state.Epoch, r.state.Step = 1, 5
	if err := r.saveAfterStep(); err != nil {
		t.Fatal(err)
	}
	st, _, err := loadCheckpoint(r.checkpointPath())
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 1 || st.Step != 6 || r.state.Step != 5 {
		t.Errorf("saved epoch %d step %d (the run at step %d), want epoch 1 step 6 (the run at 5)", st.Epoch, st.Step, r.state.Step)
	}
}
