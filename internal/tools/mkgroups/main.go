// Command mkgroups writes the groups file of a training corpus
// (internal/tools/mkcorpus) for the trainer's data.mix groups: the images
// of the named training sources that are frames of one animation, known by
// the names of the files they came from (NAME-N.png is frame N of
// animation NAME, as Wesnoth stores its units' animations):
//
//	OUT/groups.tsv   PATH<TAB>GROUP, PATH under OUT/train, a group's frames in frame order
//
// A group is written only when at least two of its frames were kept (the
// corpus drops repeated frames). Frames of one animation show one object
// from other angles and in other poses: as a group they are one class, each
// other's positives, where as instances they would be each other's
// negatives.
//
//	go run ./internal/tools/mkgroups -corpus data/corpus -source rendered/wesnoth-units
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/deeprank/deeprank/internal/atomicfile"
)

func main() {
	corpus := flag.String("corpus", "data/corpus", "the corpus folder of internal/tools/mkcorpus")
	var sources []string
	flag.Func("source", "a training source whose NAME-N files are animation frames, as KIND/SOURCE (repeatable)", func(s string) error {
		sources = append(sources, s)
		return nil
	})
	flag.Parse()
	if len(sources) == 0 {
		fmt.Fprintln(os.Stderr, "mkgroups: at least one -source is required")
		os.Exit(2)
	}
	if err := run(*corpus, sources, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkgroups:", err)
		os.Exit(1)
	}
}

// frameName matches a frame's file name: the animation's name, a dash, the
// frame's number and the extension.
var frameName = regexp.MustCompile(`^(.+)-([0-9]+)\.[A-Za-z]+$`)

// frame is one kept image of an animation.
type frame struct {
	path string // under OUT/train
	n    int
}

func run(corpus string, sources []string, stdout io.Writer) error {
	f, err := os.Open(filepath.Join(corpus, "index.tsv"))
	if err != nil {
		return err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, s := range sources {
		want[s] = true
	}
	found := map[string]bool{}
	animations := map[string][]frame{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if line == 1 {
			continue // the header
		}
		if len(cols) < 5 {
			return fmt.Errorf("%s: line %d has %d columns, want path, split, kind, source, file, ...", f.Name(), line, len(cols))
		}
		path, split, kind, source, file := cols[0], cols[1], cols[2], cols[3], cols[4]
		if !want[kind+"/"+source] {
			continue
		}
		if split != "train" {
			return fmt.Errorf("%s: %s/%s is held out of training; name training sources only", f.Name(), kind, source)
		}
		found[kind+"/"+source] = true
		m := frameName.FindStringSubmatch(filepath.Base(file))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2]) // digits only; a number too large for int is not a frame
		name := source + "/" + filepath.ToSlash(filepath.Join(filepath.Dir(file), m[1]))
		animations[name] = append(animations[name], frame{strings.TrimPrefix(path, "train/"), n})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, s := range sources {
		if !found[s] {
			return fmt.Errorf("%s has no images of %s; see the corpus's SOURCES.tsv for the sources", f.Name(), s)
		}
	}
	names := make([]string, 0, len(animations))
	for name, frames := range animations {
		if len(frames) >= 2 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	images := 0
	for _, name := range names {
		frames := animations[name]
		slices.SortFunc(frames, func(a, b frame) int { return cmp.Or(cmp.Compare(a.n, b.n), strings.Compare(a.path, b.path)) })
		for _, fr := range frames {
			fmt.Fprintf(&b, "%s\t%s\n", fr.path, name)
		}
		images += len(frames)
	}
	out := filepath.Join(corpus, "groups.tsv")
	if err := atomicfile.WriteFile(out, []byte(b.String())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d animations, %d frames\n", out, len(names), images)
	return nil
}
