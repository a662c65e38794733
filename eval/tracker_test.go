package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/model"
)

// TestTracker checks that a tracker scores each set as Run does, decodes
// every image once (a gallery shared by two sets counts once), and refuses
// a set without labels, naming it.
func TestTracker(t *testing.T) {
	m := randomModel(t)
	dir := t.TempDir()
	spec := writeSet(t, dir, 4)
	loo := SetSpec{Name: "leave one out", Classes: spec.Gallery}
	suite := &Suite{Sets: []SetSpec{spec, loo}}
	tr, err := NewTracker(context.Background(), suite, m.Spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Images() != 8 {
		t.Errorf("Images() = %d, want 8 (4 queries, 4 gallery images shared by both sets)", tr.Images())
	}
	net, err := model.NewNet(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Recall1(net, m.Normalization)
	for i, s := range suite.Sets {
		set, err := s.Build(0)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), set, Options{Models: []NamedModel{{Name: "model", Model: m}}})
		if err != nil {
			t.Fatal(err)
		}
		if want := rep.Results[0].Retrieval.Recall[1]; got[i] != want {
			t.Errorf("set %d: Recall1 = %g, Run gives %g", i, got[i], want)
		}
	}

	triplets := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(triplets, []byte("gallery/a/x.png,gallery/a/x.png,gallery/b/x.png\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := &Suite{Sets: []SetSpec{spec, {Name: "only triplets", Triplets: triplets, Root: dir}}}
	_, err = NewTracker(context.Background(), bad, m.Spec, 0)
	if err == nil || !errors.Is(err, ErrSuite) || !strings.Contains(err.Error(), `sets[1] ("only triplets")`) {
		t.Errorf("a set of triplets only: err = %v, want ErrSuite naming sets[1]", err)
	}
}
