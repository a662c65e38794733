package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/dataset"
)

// The validation set is only the trainer's held-out set if valFraction is
// the recipe's data.val_fraction and isValidation splits as the trainer
// does.
func TestValidationMatchesTrainer(t *testing.T) {
	stages, err := filepath.Glob("../../../models/default/stage*.yaml")
	if err != nil || len(stages) == 0 {
		t.Fatalf("no stage configs found: %v", err)
	}
	for _, file := range stages {
		c, err := config.Load(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Train.Data.ValFraction; got != valFraction {
			t.Errorf("%s: data.val_fraction is %g; mkdefaultdata's valFraction is %g", file, got, valFraction)
		}
	}
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("1f6%02x", i))
	}
	ds := &dataset.Labelled{Classes: names}
	for i := range 200 {
		ds.Paths = append(ds.Paths, filepath.Join(names[i%len(names)], "x.png"))
		ds.Labels = append(ds.Labels, i%len(names))
	}
	_, held := ds.Split(valFraction, true, dataset.ValidationSalt)
	heldClass := map[string]bool{}
	for _, l := range held.Labels {
		heldClass[names[l]] = true
	}
	if len(heldClass) == 0 || len(heldClass) == len(names) {
		t.Fatalf("the trainer held out %d of %d classes; the test needs some held and some not", len(heldClass), len(names))
	}
	for _, n := range names {
		if isValidation(n) != heldClass[n] {
			t.Errorf("%s: isValidation %v, the trainer's split %v", n, isValidation(n), heldClass[n])
		}
	}
}
