// Package queryfilter parses the filter grammar that `deeprank query
// --filter` and the search API of `deeprank serve` share, into a
// vectorstore.Filter.
//
// The grammar: comma-separated key=value items, where the key is class
// (the image's folder name, exactly) or path (a prefix of the image's
// absolute path, as a string). A key given more than once matches any of
// its values; class and path together must both match. Values are taken
// as written, spaces included, and cannot hold a comma.
//
// Caveat: a relative path prefix is made absolute from the current folder
// of the process that parses it, as ingest makes stored paths absolute
// from its own; a server should be given absolute prefixes.
package queryfilter

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/deeprank/deeprank/vectorstore"
)

// ErrSyntax is returned (wrapped) when a filter does not follow the
// grammar; the message names the item at fault.
var ErrSyntax = errors.New("bad filter")

// Parse parses a filter; "" is no filter (nil).
func Parse(s string) (*vectorstore.Filter, error) {
	if s == "" {
		return nil, nil
	}
	f := &vectorstore.Filter{}
	for _, item := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%w: item %q is not key=value; want e.g. class=beach,path=photos/", ErrSyntax, item)
		}
		if k != "class" && k != "path" {
			return nil, fmt.Errorf("%w: unknown key %q; the keys are class and path", ErrSyntax, k)
		}
		if v == "" {
			return nil, fmt.Errorf("%w: %s has an empty value; give %s=VALUE or leave the item out", ErrSyntax, k, k)
		}
		if k == "class" {
			f.Classes = append(f.Classes, v)
			continue
		}
		p, err := absPrefix(v)
		if err != nil {
			return nil, err
		}
		f.PathPrefixes = append(f.PathPrefixes, p)
	}
	return f, nil
}

// absPrefix makes a path prefix absolute and clean, as ingest stores paths
// (filepath.Abs), so that a relative prefix matches them. A trailing
// separator is kept: it is what limits the prefix to a folder's contents.
func absPrefix(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("path=%s: %w", p, err)
	}
	if strings.HasSuffix(p, string(filepath.Separator)) && !strings.HasSuffix(abs, string(filepath.Separator)) {
		abs += string(filepath.Separator)
	}
	return abs, nil
}
