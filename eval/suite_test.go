package eval

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSuite(t *testing.T) {
	cases := []struct {
		name string
		in   string
		sets int
		want string // error substring; "" for none
	}{
		{"two sets", "sets:\n  - {name: a, classes: x}\n  - {name: b, queries: q, gallery: g}\n", 2, ""},
		{"triplets", "sets: [{triplets: t.txt, root: r}]", 1, ""},
		{"unknown key", "sets: [{classes: x, colour: red}]", 0, "colour"},
		{"two kinds", "sets: [{classes: x, triplets: t}]", 0, "sets[0]"},
		{"queries alone", "sets: [{name: q, queries: q}]", 0, `sets[0] ("q")`},
		{"empty", "", 0, "no sets"},
		{"negative cap", "sets: [{classes: x, max_images: -1}]", 0, "max_images"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSuite(strings.NewReader(tc.in), "suite.yaml")
			if tc.want != "" {
				if !errors.Is(err, ErrSuite) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want ErrSuite naming %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Sets) != tc.sets {
				t.Errorf("%d sets, want %d", len(s.Sets), tc.sets)
			}
		})
	}
}

// FuzzParseSuite parses any text: an error, or sets that each name
// exactly one kind of set, written out here apart from SetSpec.Validate (a
// fuzz target calling the code's own check would pass whatever it checks).
func FuzzParseSuite(f *testing.F) {
	f.Add("sets:\n  - {name: a, classes: x}\n")
	f.Add("sets: [{queries: q, gallery: g, max_images: 3}]")
	f.Add("sets: [{classes: x, gallery: g}]")
	f.Add("sets: [{triplets: t, queries: q}]")
	f.Add("sets: [{gallery: g}]")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSuite(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, set := range s.Sets {
			kinds := 0
			for _, on := range []bool{set.Classes != "", set.Queries != "" && set.Gallery != "", set.Triplets != ""} {
				if on {
					kinds++
				}
			}
			halfPair := (set.Queries == "") != (set.Gallery == "")
			if kinds != 1 || halfPair || set.MaxImages < 0 {
				t.Fatalf("accepted %q as the set %+v, which is not one kind of set", in, set)
			}
		}
	})
}
