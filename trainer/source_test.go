package trainer

import (
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

	o.Data.Mix[0].Groups = filepath.Join(t.TempDir(), "missing.tsv")
	if _, err := newSource(o); err == nil || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("a missing groups file: error %v, want one naming it", err)
	}
}
