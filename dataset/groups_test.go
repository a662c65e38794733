package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseGroups(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string // part of the error; "" when none
	}{
		{"two groups", "a/x-1.png\ta/x\na/x-2.png\ta/x\nb/y-1.png\tb/y\n", map[string]string{"a/x-1.png": "a/x", "a/x-2.png": "a/x", "b/y-1.png": "b/y"}, ""},
		{"comments, blanks, CRLF, no final newline", "# path\tgroup\n\np.png\tg\r\nq.png\tg", map[string]string{"p.png": "g", "q.png": "g"}, ""},
		{"no tab", "p.png g\n", nil, "line 1"},
		{"empty group", "p.png\tg\nq.png\t\n", nil, "line 2"},
		{"three fields", "p.png\tg\th\n", nil, "line 1"},
		{"listed twice", "p.png\tg\np.png\th\n", nil, "line 2: p.png is listed twice"},
		{"empty", "", map[string]string{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGroups(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestReadGroupsNamesTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "groups.tsv")
	if err := os.WriteFile(file, []byte("p.png\tg\nbad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadGroups(file)
	if err == nil || !strings.Contains(err.Error(), file+": line 2") {
		t.Fatalf("error %v, want one naming %s and line 2", err, file)
	}
}

func TestGroup(t *testing.T) {
	ds := &Labelled{Root: "r", Paths: []string{"a-1.png", "a-2.png", "b.png", "a-3.png", "c-1.png", "c-2.png"}}
	for i, p := range ds.Paths {
		ds.Labels = append(ds.Labels, i)
		ds.Classes = append(ds.Classes, p)
	}
	groups := map[string]string{"a-1.png": "a", "a-2.png": "a", "a-3.png": "a", "c-1.png": "c", "c-2.png": "c"}
	got, err := ds.Group(groups)
	if err != nil {
		t.Fatal(err)
	}
	wantClasses := []string{"group:a", "b.png", "group:c"}
	wantLabels := []int{0, 0, 1, 0, 2, 2}
	if !reflect.DeepEqual(got.Classes, wantClasses) || !reflect.DeepEqual(got.Labels, wantLabels) || !reflect.DeepEqual(got.Paths, ds.Paths) {
		t.Fatalf("got classes %v labels %v paths %v; want %v %v %v", got.Classes, got.Labels, got.Paths, wantClasses, wantLabels, ds.Paths)
	}
	groups["gone.png"] = "a"
	if _, err := ds.Group(groups); err == nil || !strings.Contains(err.Error(), "gone.png") {
		t.Fatalf("a grouped image missing from the set: error %v, want one naming it", err)
	}
}

// TestSplitGrouped checks SplitGrouped's two rules on many groups: every
// group is held out whole or trained on without the images whose paths
// the instances' hash holds out, and those are held out as without groups.
func TestSplitGrouped(t *testing.T) {
	ds := &Labelled{}
	groups := map[string]string{}
	for i := range 2000 {
		p := fmt.Sprintf("img%d.png", i)
		ds.Paths = append(ds.Paths, p)
		ds.Labels = append(ds.Labels, i)
		ds.Classes = append(ds.Classes, p)
		if i%2 == 0 {
			groups[p] = fmt.Sprint("anim", i/10)
		}
	}
	grouped, err := ds.Group(groups)
	if err != nil {
		t.Fatal(err)
	}
	const frac, salt = 0.1, "validation:"
	train, held := grouped.SplitGrouped(frac, salt)
	_, heldByPath := ds.Split(frac, true, salt)
	if len(train.Paths)+len(held.Paths) != len(ds.Paths) {
		t.Fatal("split lost images")
	}
	isHeld := map[string]bool{}
	for _, p := range held.Paths {
		isHeld[p] = true
	}
	for _, p := range heldByPath.Paths {
		if !isHeld[p] {
			t.Errorf("%s is held out by its path without groups, but trained on with them", p)
		}
	}
	heldGroups := map[int]bool{}
	for i, p := range held.Paths {
		if HeldOut(salt, grouped.Classes[held.Labels[i]], frac) {
			heldGroups[held.Labels[i]] = true
		} else if !HeldOut(salt, p, frac) {
			t.Errorf("%s is held out, but neither its path nor its class %s hashes there", p, grouped.Classes[held.Labels[i]])
		}
	}
	for i, p := range train.Paths {
		if heldGroups[train.Labels[i]] {
			t.Errorf("%s is trained on, but its group %s is held out", p, grouped.Classes[train.Labels[i]])
		}
	}
	if len(heldGroups) == 0 {
		t.Error("no group was held out whole")
	}
}

func FuzzParseGroups(f *testing.F) {
	f.Add("a/x-1.png\ta/x\n# c\n\nb.png\tb\r\n")
	f.Add("p\t\n")
	f.Add("\t\t\n")
	f.Fuzz(func(t *testing.T, in string) {
		groups, err := parseGroups(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		for p, g := range groups {
			if p == "" || g == "" || strings.ContainsAny(p+g, "\t\n") {
				t.Fatalf("bad entry %q -> %q from %q", p, g, in)
			}
		}
	})
}
