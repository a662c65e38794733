package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// kinds are the kinds of images a source may be labelled with.
var kinds = []string{
	"photo",      // photographs
	"drawing",    // drawings and paintings
	"lineart",    // line art, clip art and diagrams
	"icon",       // icons and emoji
	"rendered",   // game and rendered art
	"screenshot", // screenshots and user interfaces
	"texture",    // textures and patterns
}

// Splits of a source.
const (
	splitTrain   = "train"   // every image may be trained on
	splitHeldOut = "heldout" // no image may be trained on
	// splitTrainExceptEval is train, except for the images whose file name
	// (without extension) the default model holds out for its evaluation
	// (dataset.HeldOut("", name, 0.2), as internal/tools/mkdefaultdata
	// splits emoji codes and landscape photos): those are held out here
	// too, so the default model's evaluation stays unseen.
	splitTrainExceptEval = "train-except-default-eval"
)

// source is one line of the plan: a folder of images from one package,
// of one kind.
type source struct {
	Name     string // unique, used in the layout's paths
	Package  string
	Version  string
	Kind     string
	Split    string
	Licence  string
	Dir      string         // relative to the root folder
	Include  *regexp.Regexp // nil takes every image under Dir
	Exclude  *regexp.Regexp // nil drops none
	planLine int
}

// planColumns are the plan's tab-separated columns, in order.
var planColumns = []string{"name", "package", "version", "kind", "split", "licence", "dir", "include", "exclude"}

// parsePlan reads a plan: one source a line, tab-separated columns as in
// planColumns ("-" for no include or exclude pattern, which are regular
// expressions matched against the slash-separated path below dir). Blank
// lines and lines starting with # are skipped. name says where the plan
// came from, for errors.
func parsePlan(r io.Reader, name string) ([]source, error) {
	var out []source
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != len(planColumns) {
			return nil, fmt.Errorf("%s:%d: %d tab-separated columns, want %d (%s)", name, n, len(f), len(planColumns), strings.Join(planColumns, ", "))
		}
		for i, v := range f {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("%s:%d: column %s is empty (write - for no pattern)", name, n, planColumns[i])
			}
		}
		s := source{Name: f[0], Package: f[1], Version: f[2], Kind: f[3], Split: f[4], Licence: f[5], Dir: f[6], planLine: n}
		if strings.ContainsAny(s.Name, `/\ `) || s.Name == "." || s.Name == ".." {
			return nil, fmt.Errorf("%s:%d: name %q must be one path element without spaces", name, n, s.Name)
		}
		if prev, ok := seen[s.Name]; ok {
			return nil, fmt.Errorf("%s:%d: name %q already used on line %d", name, n, s.Name, prev)
		}
		seen[s.Name] = n
		if !slices.Contains(kinds, s.Kind) {
			return nil, fmt.Errorf("%s:%d: kind %q is none of %s", name, n, s.Kind, strings.Join(kinds, ", "))
		}
		switch s.Split {
		case splitTrain, splitHeldOut, splitTrainExceptEval:
		default:
			return nil, fmt.Errorf("%s:%d: split %q is none of %s, %s, %s", name, n, s.Split, splitTrain, splitHeldOut, splitTrainExceptEval)
		}
		for i, p := range []**regexp.Regexp{&s.Include, &s.Exclude} {
			if f[7+i] == "-" {
				continue
			}
			re, err := regexp.Compile(f[7+i])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: column %s: %w", name, n, planColumns[7+i], err)
			}
			*p = re
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no sources", name)
	}
	return out, nil
}
