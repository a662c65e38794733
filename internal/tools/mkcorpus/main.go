// Command mkcorpus lays out a training corpus of many kinds of images from
// the unpacked packages named in a plan (scripts/fetch-corpus.sh writes the
// plan and runs it):
//
//	OUT/train/KIND/SOURCE/KEY.{png,jpg}    images training may use
//	OUT/heldout/KIND/SOURCE/KEY.{png,jpg}  images kept out of training, for evaluation
//	OUT/index.tsv                          one line per image: path, split, kind, source, file it came from, size
//	OUT/dropped.tsv                        one line per file left out, and why
//	OUT/SOURCES.tsv                        per source: package, version, kind, licence, split, counts
//
// Every image is stored at most 256 pixels on its long side (aspect kept),
// as JPEG when it is opaque and came from a JPEG or WebP, else as PNG. SVGs
// are rasterised by rsvg-convert (librsvg) into a 256-pixel box; GIMP
// patterns (.pat) are decoded here.
//
// Files are left out, in this order, when they are:
//   - variant: another size of the same icon or wallpaper in one source (the
//     same path once size folders such as 48x48 or scalable, size file names
//     such as 1920x1080, @2x and the extension are taken out); the largest,
//     or the SVG, is kept;
//   - undecodable;
//   - tiny: less than 32 pixels on a side;
//   - blank: the colours of the stored image, composited on mid grey, have a
//     standard deviation below 3/255 (the root mean of the channels'
//     variances);
//   - duplicate: their content key equals an earlier image's, in any source.
//     The key is the stored image shrunk to 16x16 by area averaging,
//     composited on mid grey, quantised to 16 levels a channel, with its
//     aspect ratio rounded to a quarter: the same picture at two sizes,
//     re-encoded, or a repeated animation frame gets the same key.
//
// Held-out sources are processed first, so an image found in both a
// held-out and a training source is kept only as held out. A file's KEY is
// its content key, so two runs on the same packages give the same layout.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/deeprank/deeprank/dataset"
)

func main() {
	o := options{stdout: os.Stdout}
	flag.StringVar(&o.plan, "plan", "", "the plan: one source a line (see plan.go)")
	flag.StringVar(&o.root, "root", "", "folder the plan's dir column is relative to")
	flag.StringVar(&o.out, "out", "", "output folder (must not exist)")
	flag.IntVar(&o.workers, "workers", 2, "images decoded and resized at once")
	flag.StringVar(&o.rsvg, "rsvg-convert", "rsvg-convert", "the rsvg-convert program, to rasterise SVGs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "mkcorpus:", err)
		os.Exit(1)
	}
}

// options are mkcorpus's flags.
type options struct {
	plan, root, out, rsvg string
	workers               int
	stdout                io.Writer // where progress and totals are printed
}

// Reasons a file is left out, as dropped.tsv and SOURCES.tsv name them.
const (
	dropVariant     = "variant"
	dropUndecodable = "undecodable"
	dropTiny        = "tiny"
	dropBlank       = "blank"
	dropDuplicate   = "duplicate"
)

// defaultModelHeldOut is the share of emoji codes and photos the default
// model holds out for evaluation (heldOut in internal/tools/mkdefaultdata).
const defaultModelHeldOut = 0.2

var dropReasons = []string{dropVariant, dropUndecodable, dropTiny, dropBlank, dropDuplicate}

// tally counts what became of one source's files.
type tally struct {
	candidates, train, heldOut int
	dropped                    map[string]int
}

func run(ctx context.Context, o options) error {
	if o.plan == "" || o.root == "" || o.out == "" {
		return errors.New("-plan, -root and -out are required")
	}
	if o.workers < 1 {
		return fmt.Errorf("-workers %d: want at least 1", o.workers)
	}
	f, err := os.Open(o.plan)
	if err != nil {
		return err
	}
	srcs, err := parsePlan(f, o.plan)
	f.Close()
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.out); err == nil {
		return fmt.Errorf("%s already exists: remove it or choose another -out", o.out)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	// Held-out sources first: an image in both kinds of source stays held out.
	slices.SortStableFunc(srcs, func(a, b source) int {
		return boolInt(a.Split != splitHeldOut) - boolInt(b.Split != splitHeldOut)
	})
	w, err := newWriter(o.out)
	if err != nil {
		return err
	}
	defer w.close()
	seen := map[string]string{} // content key -> source/file of its first image
	known := map[[sha256.Size]byte]result{}
	tallies := make([]tally, len(srcs))
	start := time.Now()
	for i, s := range srcs {
		t := &tallies[i]
		t.dropped = map[string]int{}
		files, variants, err := collect(filepath.Join(o.root, s.Dir), s)
		if err != nil {
			return err
		}
		t.candidates = len(files) + len(variants)
		for _, v := range variants {
			t.dropped[dropVariant]++
			w.drop(s, v, dropVariant, "")
		}
		err = processAll(ctx, filepath.Join(o.root, s.Dir), files, o.workers, o.rsvg, known, func(rel string, r result) error {
			split := s.Split
			if split == splitTrainExceptEval {
				split = splitTrain
				if heldOutByDefaultModel(rel) {
					split = splitHeldOut
				}
			}
			switch {
			case r.drop != "":
				t.dropped[r.drop]++
				w.drop(s, rel, r.drop, r.detail)
				return nil
			case seen[r.key] != "":
				t.dropped[dropDuplicate]++
				w.drop(s, rel, dropDuplicate, "same content as "+seen[r.key])
				return nil
			}
			seen[r.key] = s.Name + "/" + rel
			if split == splitHeldOut {
				t.heldOut++
			} else {
				t.train++
			}
			return w.image(s, split, rel, r)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "%-28s %-10s %-26s %6d files: %6d train, %5d held out, dropped %v (%s)\n",
			s.Name, s.Kind, s.Split, t.candidates, t.train, t.heldOut, t.dropped, time.Since(start).Round(time.Second))
	}
	if err := w.close(); err != nil {
		return err
	}
	return writeSources(o.stdout, filepath.Join(o.out, "SOURCES.tsv"), srcs, tallies)
}

// collect lists the images under dir that s takes, as slash-separated paths
// relative to dir, and the size variants among them left out.
func collect(dir string, s source) (files, variants []string, err error) {
	groups := map[string][]string{}
	var order []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isInput(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if (s.Include != nil && !s.Include.MatchString(rel)) || (s.Exclude != nil && s.Exclude.MatchString(rel)) {
			return nil
		}
		k := variantKey(rel)
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], rel)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("source %s (plan line %d): %w", s.Name, s.planLine, err)
	}
	for _, k := range order {
		g := groups[k]
		best := 0
		if len(g) > 1 {
			best = largest(dir, g)
		}
		for i, rel := range g {
			if i == best {
				files = append(files, rel)
			} else {
				variants = append(variants, rel)
			}
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("source %s (plan line %d): no images under %s: is the package unpacked there?", s.Name, s.planLine, dir)
	}
	return files, variants, nil
}

// variantKey is rel without what tells sizes of one image apart: folders
// named like 48x48 or scalable, a file name like 1920x1080, an @2x suffix,
// and the extension.
func variantKey(rel string) string {
	parts := strings.Split(strings.TrimSuffix(rel, filepath.Ext(rel)), "/")
	keep := parts[:0]
	for _, p := range parts {
		p = strings.TrimSuffix(p, "@2x")
		if p != "scalable" && !isSize(p) {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "/")
}

// isSize reports whether s is a size such as 48x48.
func isSize(s string) bool {
	w, h, ok := strings.Cut(s, "x")
	return ok && isDigits(w) && isDigits(h)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// writeSources writes SOURCES.tsv, the sources in the order they were
// processed with their counts, and prints the totals to stdout.
func writeSources(stdout io.Writer, path string, srcs []source, tallies []tally) error {
	var b strings.Builder
	b.WriteString("source\tpackage\tversion\tkind\tsplit\tlicence\tfiles\ttrain\theldout")
	for _, r := range dropReasons {
		b.WriteString("\tdropped_" + r)
	}
	b.WriteString("\n")
	var train, held int
	for i, s := range srcs {
		t := tallies[i]
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d", s.Name, s.Package, s.Version, s.Kind, s.Split, s.Licence, t.candidates, t.train, t.heldOut)
		for _, r := range dropReasons {
			fmt.Fprintf(&b, "\t%d", t.dropped[r])
		}
		b.WriteString("\n")
		train += t.train
		held += t.heldOut
	}
	fmt.Fprintf(stdout, "distinct images: %d (%d train, %d held out) from %d sources\n", train+held, train, held, len(srcs))
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// heldOutByDefaultModel reports whether the default model holds out the
// image at rel for its evaluation: the rule of internal/tools/mkdefaultdata
// on an emoji code or photo name, which is the file name without extension.
func heldOutByDefaultModel(rel string) bool {
	name := strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
	return dataset.HeldOut("", name, defaultModelHeldOut)
}

// contentKey is the hex SHA-256 of the quantised thumbnail and aspect
// bucket (see the package doc), shortened to 20 digits: enough that two
// distinct images among millions do not share one.
func contentKey(thumb []byte, w, h int) string {
	aspect := int(math.Round(4 * float64(w) / float64(h)))
	sum := sha256.Sum256(append([]byte{byte(min(aspect, 255))}, thumb...))
	return hex.EncodeToString(sum[:10])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
