package queryfilter

import (
	"errors"
	"path/filepath"
	"testing"
)

// FuzzParse checks that any filter text either is a syntax error or gives
// a filter whose every value is non-empty, and every path absolute. The
// filter comes from outside: a command line or an HTTP request.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "class=a", "class=a,class=b,path=p/", "path=/x", "class=", "x=1", ",", "=", "path=..,path=./a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): %v is not ErrSyntax", s, err)
			}
			return
		}
		if got == nil {
			if s != "" {
				t.Fatalf("Parse(%q): no filter and no error", s)
			}
			return
		}
		if len(got.Classes)+len(got.PathPrefixes) == 0 {
			t.Fatalf("Parse(%q): an empty filter", s)
		}
		for _, c := range got.Classes {
			if c == "" {
				t.Fatalf("Parse(%q): an empty class in %+v", s, got)
			}
		}
		for _, p := range got.PathPrefixes {
			if !filepath.IsAbs(p) {
				t.Fatalf("Parse(%q): path prefix %q is not absolute", s, p)
			}
		}
	})
}
