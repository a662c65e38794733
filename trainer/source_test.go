package trainer

import (
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/dataset"
)

// TestSourceGroups reads instances with a groups file: the images of each
// group share a label, in training and held out, a group is trained on or
// held out whole, and the ungrouped images stay their own classes.
func TestSourceGroups(t *testing.T) {
	root := mustClassImages(t, 8, 6)
	var groups strings.Builder
	for _, folder := range []string{"a", "b", "c", "d", "e"} {
		for i := range 6 {
			groups.WriteString(folder + "/" + string(rune('a'+i)) + ".png\tanim-" + folder + "\n")
		}
	}
	file := filepath.Join(t.TempDir(), "groups.tsv")
	if err := os.WriteFile(file, []byte(groups.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	o := instanceOptions(t, root)
	o.Data.Mix[0].Groups = file
	src, err := newSource(o)
	if err != nil {
		t.Fatal(err)
	}
	train, held := src.parts[0].set, src.valSet
	labelOf := map[string]int{}    // folder of a group -> its label
	trainedOn := map[string]bool{} // folder of a group -> has training images
	check := func(set *dataset.Labelled, training bool) {
		for i, p := range set.Paths {
			folder := path.Base(path.Dir(p))
			if folder > "e" { // not grouped: its own class
				if set.Classes[set.Labels[i]] != p {
					t.Errorf("%s is in class %s, want its own", p, set.Classes[set.Labels[i]])
				}
				continue
			}
			if l, ok := labelOf[folder]; ok && l != set.Labels[i] {
				t.Errorf("%s has label %d, another image of its group %d", p, set.Labels[i], l)
			}
			labelOf[folder] = set.Labels[i]
			if training {
				trainedOn[folder] = true
			} else if trainedOn[folder] && !dataset.HeldOut(dataset.ValidationSalt, folder+"/"+path.Base(p), o.Data.ValFraction) {
				t.Errorf("%s is held out, but its group is trained on and its path is not held out", p)
			}
		}
	}
	check(train, true)
	check(held, false)
	if len(trainedOn) == 5 || len(trainedOn) == 0 {
		t.Errorf("%d of 5 groups trained on; want some held out whole, some not", len(trainedOn))
	}

	// group_positives weights the grouped images up: 3 triplets each
	// (one negative per positive), against 2 for the others.
	src.parts[0].groupPositives = 3
	perQuery := map[string]int{}
	for _, tr := range src.parts[0].sample(true, rand.New(rand.NewPCG(1, 2))) {
		perQuery[tr.Query]++
	}
	classSize := map[int]int{}
	weighted := 0
	for _, l := range train.Labels {
		classSize[l]++
	}
	for i, p := range train.Paths {
		want := 2
		if classSize[train.Labels[i]] > 1 {
			want = 3
			weighted++
		}
		if perQuery[p] != want {
			t.Errorf("%s queries %d triplets, want %d", p, perQuery[p], want)
		}
	}

	if weighted == 0 {
		t.Error("no training image shares its group with another: nothing was weighted up")
	}

	o.Data.Mix[0].Groups = filepath.Join(t.TempDir(), "missing.tsv")
	if _, err := newSource(o); err == nil || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("a missing groups file: error %v, want one naming it", err)
	}
}
