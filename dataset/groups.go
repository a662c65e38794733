package dataset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// ReadGroups reads a groups file: one image per line, PATH<TAB>GROUP, the
// path relative to the folder of instances it groups. Images with the same
// group show one object (the frames of one animation, say), so Group makes
// them one class. Blank lines and lines starting with # are skipped.
func ReadGroups(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	defer f.Close()
	groups, err := parseGroups(f)
	if err != nil {
		return nil, fmt.Errorf("groups: %s: %w", file, err)
	}
	return groups, nil
}

func parseGroups(r io.Reader) (map[string]string, error) {
	groups := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, group, ok := strings.Cut(line, "\t")
		if !ok || path == "" || group == "" || strings.Contains(group, "\t") {
			return nil, fmt.Errorf("line %d: want PATH<TAB>GROUP, got %q", n, line)
		}
		if g, dup := groups[path]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice (in groups %q and %q)", n, path, g, group)
		}
		groups[path] = group
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return groups, nil
}

// GroupClass is the class name Group gives the images of group, and so
// the key SplitGrouped hashes to hold the group out.
func GroupClass(group string) string { return "group:" + group }

// Group returns the instances ds (ScanInstances) with the images groups
// lists by path made one class per group, named GroupClass(group); the
// other images stay their own classes. A listed path that ds lacks is an
// error: the file was made for another corpus.
func (ds *Labelled) Group(groups map[string]string) (*Labelled, error) {
	out := &Labelled{Root: ds.Root, Paths: ds.Paths, Labels: make([]int, len(ds.Paths))}
	label := map[string]int{}
	found := 0
	for i, p := range ds.Paths {
		name := p
		if g, ok := groups[p]; ok {
			name = GroupClass(g)
			found++
		}
		l, ok := label[name]
		if !ok {
			l = len(out.Classes)
			label[name] = l
			out.Classes = append(out.Classes, name)
		}
		out.Labels[i] = l
	}
	if found != len(groups) {
		have := make(map[string]bool, len(ds.Paths))
		for _, p := range ds.Paths {
			have[p] = true
		}
		var missing []string
		for p := range groups {
			if !have[p] {
				missing = append(missing, p)
			}
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("group: %d of the grouped images are not under %s (the first: %s); remake the groups file for this corpus", len(missing), ds.Root, missing[0])
	}
	return out, nil
}

// SplitGrouped divides instances made by Group as Split does by class,
// with one more rule: an image is held out when the hash of its class name
// (GroupClass) falls in frac, or that of its own path does. Whole groups
// are held out, and the images held out by path are the same as without
// groups, so sets rebuilt with HeldOut on paths alone (copy-detection
// validation) stay unseen.
func (ds *Labelled) SplitGrouped(frac float64, salt string) (train, held *Labelled) {
	return ds.splitWhere(func(i int) bool {
		c := ds.Classes[ds.Labels[i]]
		return HeldOut(salt, ds.Paths[i], frac) || (c != ds.Paths[i] && HeldOut(salt, c, frac))
	})
}
