// Command mkdefaultdata lays out the training and evaluation data of the
// default model from the emoji images of two vendors and a set of photos:
//
//	OUT/train/emoji/CODE/{google,twitter}.png    instance pairs (80% of codes)
//	OUT/train/photos/NAME/{orig,2x}.jpg          photos (80%), with their 2x version
//	OUT/eval/emoji/{google,twitter}/CODE/*.png   held-out codes, one vendor per side
//	OUT/eval/photos/gallery/NAME/orig.jpg        held-out photos
//	OUT/eval/photos/queries/T/NAME/q.png         their copies under transform T
//	OUT/eval/triplets.txt                        held-out triplets of both sets
//	OUT/eval/unseen/gallery/NAME/orig.EXT        photos from other sources, all held out
//	OUT/eval/unseen/queries/T/NAME/q.png         their copies under transform T
//	OUT/val/emoji/{google,twitter}/CODE/*.png    the trainer's validation codes
//	OUT/val/photos/queries/T/NAME/q*.png         copies of its validation photos
//
// The held-out codes and photos are a fixed 20%, chosen by a hash of the
// code or photo name (dataset.HashFraction), so training never sees them.
// The unseen photos come from other sources than the training photos and
// are all held out: they show how the model does on photos unlike any it
// was trained on.
//
// OUT/val is for choosing between models without looking at OUT/eval: the
// codes and photos of OUT/train that the trainer holds out for validation
// (data.val_fraction of the classes, split by dataset.ValidationSalt), laid
// out like OUT/eval. Its photo queries are ranked against OUT/train/photos,
// so the photos training saw are the distractors.
// scripts/fetch-default-data.sh runs it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/tools/layout"
)

// heldOut is the share of codes and photos kept for evaluation.
const heldOut = 0.2

// valFraction is the default model's data.val_fraction
// (models/default/stageN.yaml): the share of the training codes and photos
// the trainer holds out for validation.
const valFraction = 0.1

// valDraws is the number of copies of each validation photo under each
// transform: there are only 24 such photos, too few for one copy each
// to tell two models apart.
const valDraws = 5

// transforms are the copy-detection edits evaluated one by one, and mixed.
var transforms = []struct {
	name  string
	apply func(*image.RGBA, *rand.Rand) *image.RGBA
}{
	{"crop", imageio.Augment{Crop: 0.4}.Apply},
	{"downscale", imageio.Augment{Downscale: 0.75}.Apply},
	{"rotate", imageio.Augment{Rotation: 20}.Apply},
	{"jpeg", imageio.Augment{JPEGProbability: 1, JPEGMinQuality: 10}.Apply},
	{"color", imageio.Augment{ColorJitter: 0.4}.Apply},
	{"flip", func(img *image.RGBA, _ *rand.Rand) *image.RGBA { return layout.Flip(img) }},
	{"mix", imageio.Augment{Crop: 0.3, Rotation: 10, Downscale: 0.5, ColorJitter: 0.3, JPEGProbability: 1, JPEGMinQuality: 30, HorizontalFlip: true}.Apply},
}

func main() {
	google := flag.String("emoji-google", "", "folder of the Google emoji PNGs (img/google/64)")
	twitter := flag.String("emoji-twitter", "", "folder of the Twitter emoji PNGs (img/twitter/64)")
	photos := flag.String("photos", "", "folder of photos (JPEG)")
	photos2x := flag.String("photos-2x", "", "optional folder of the same photos at twice the size, named NAME@2x.jpg")
	out := flag.String("out", "", "output folder")
	var unseen []string
	flag.Func("unseen", "a folder of photos (JPEG or PNG) from another source, evaluated only (repeatable)", func(dir string) error {
		unseen = append(unseen, dir)
		return nil
	})
	flag.Parse()
	if err := run(*google, *twitter, *photos, *photos2x, unseen, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkdefaultdata:", err)
		os.Exit(1)
	}
}

func run(google, twitter, photos, photos2x string, unseen []string, out string) error {
	if google == "" || twitter == "" || photos == "" || out == "" {
		return fmt.Errorf("-emoji-google, -emoji-twitter, -photos and -out are required")
	}
	codes, err := commonPNGs(google, twitter)
	if err != nil {
		return err
	}
	var triplets []dataset.Triplet
	var heldCodes []string
	valCodes, valPhotos := 0, 0
	// vendorPair lays out code c as a query and its match, one vendor on
	// each side: dir/google/CODE/google.png against dir/twitter/CODE/twitter.png.
	vendorPair := func(c, dir string) error {
		return errors.Join(
			layout.Link(filepath.Join(google, c+".png"), filepath.Join(dir, "google", c, "google.png")),
			layout.Link(filepath.Join(twitter, c+".png"), filepath.Join(dir, "twitter", c, "twitter.png")))
	}
	for _, c := range codes {
		if dataset.HeldOut("", c, heldOut) {
			heldCodes = append(heldCodes, c)
			err = vendorPair(c, filepath.Join(out, "eval/emoji"))
		} else {
			err = errors.Join(
				layout.Link(filepath.Join(google, c+".png"), filepath.Join(out, "train/emoji", c, "google.png")),
				layout.Link(filepath.Join(twitter, c+".png"), filepath.Join(out, "train/emoji", c, "twitter.png")))
			if err == nil && isValidation(c) {
				valCodes++
				err = vendorPair(c, filepath.Join(out, "val/emoji"))
			}
		}
		if err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(2014, 1))
	for i, c := range heldCodes {
		n := heldCodes[(i+1+rng.IntN(len(heldCodes)-1))%len(heldCodes)]
		triplets = append(triplets, dataset.Triplet{
			Query: "emoji/google/" + c + "/google.png", Positive: "emoji/twitter/" + c + "/twitter.png", Negative: "emoji/twitter/" + n + "/twitter.png"})
	}

	names, err := filepath.Glob(filepath.Join(photos, "*.jpg"))
	if err != nil {
		return err
	}
	var heldPhotos []string
	for _, p := range names {
		name := strings.TrimSuffix(filepath.Base(p), ".jpg")
		if dataset.HeldOut("", name, heldOut) {
			heldPhotos = append(heldPhotos, name)
			if err := writeCopyDetection(p, filepath.Join(out, "eval/photos"), name); err != nil {
				return err
			}
			continue
		}
		if err := layout.Link(p, filepath.Join(out, "train/photos", name, "orig.jpg")); err != nil {
			return err
		}
		if isValidation(name) {
			valPhotos++
			if err := writeQueries(p, filepath.Join(out, "val/photos/queries"), name, valDraws); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		if photos2x != "" {
			if p2 := filepath.Join(photos2x, name+"@2x.jpg"); exists(p2) {
				if err := layout.Link(p2, filepath.Join(out, "train/photos", name, "2x.jpg")); err != nil {
					return err
				}
			}
		}
	}
	for i, name := range heldPhotos {
		n := heldPhotos[(i+1+rng.IntN(len(heldPhotos)-1))%len(heldPhotos)]
		triplets = append(triplets, dataset.Triplet{
			Query: "photos/queries/mix/" + name + "/q.png", Positive: "photos/gallery/" + name + "/orig.jpg", Negative: "photos/gallery/" + n + "/orig.jpg"})
	}
	var buf bytes.Buffer
	if err := dataset.WriteTriplets(&buf, triplets); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "eval/triplets.txt"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("emoji: %d codes, %d held out; photos: %d, %d held out; %d held-out triplets\n",
		len(codes), len(heldCodes), len(names), len(heldPhotos), len(triplets))
	fmt.Printf("validation: %d codes, %d photos\n", valCodes, valPhotos)
	return writeUnseen(unseen, filepath.Join(out, "eval/unseen"))
}

// writeUnseen lays out the photos of every folder in dirs as a gallery and
// its transformed copies, under out. A photo is named after its folder and
// file (e.g. nature-Aqua), since names repeat across sources.
func writeUnseen(dirs []string, out string) error {
	n := 0
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.IsDir() || (ext != ".jpg" && ext != ".png") {
				continue
			}
			name := filepath.Base(dir) + "-" + strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
			if err := writeCopyDetection(filepath.Join(dir, e.Name()), out, name); err != nil {
				return err
			}
			n++
		}
	}
	if len(dirs) > 0 {
		fmt.Printf("unseen photos: %d from %d folders\n", n, len(dirs))
	}
	return nil
}

// commonPNGs lists the names (without .png) present in both folders.
func commonPNGs(a, b string) ([]string, error) {
	list := func(dir string) (map[string]bool, error) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		m := map[string]bool{}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".png") {
				m[strings.TrimSuffix(e.Name(), ".png")] = true
			}
		}
		return m, nil
	}
	la, err := list(a)
	if err != nil {
		return nil, err
	}
	lb, err := list(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for n := range la {
		if lb[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	if len(out) < 10 {
		return nil, fmt.Errorf("only %d emoji in both %s and %s", len(out), a, b)
	}
	return out, nil
}

// writeCopyDetection places the photo at src in the gallery under dir
// (dir/gallery/NAME/orig.EXT) and its transformed copies beside it
// (dir/queries/T/NAME/q.png).
func writeCopyDetection(src, dir, name string) error {
	if err := layout.Link(src, filepath.Join(dir, "gallery", name, "orig"+strings.ToLower(filepath.Ext(src)))); err != nil {
		return err
	}
	if err := writeQueries(src, filepath.Join(dir, "queries"), name, 1); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nil
}

// writeQueries writes draws copies of the photo at src under every
// transform (dir/T/NAME/q.png, then q1.png, q2.png...), seeded by the
// photo's name so the set is the same on every machine.
func writeQueries(src, dir, name string, draws int) error {
	img, err := imageio.DecodeFile(src, nil)
	if err != nil {
		return err
	}
	rgba := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	seed := uint64(dataset.HashFraction(name) * (1 << 53))
	for ti, t := range transforms {
		qdir := filepath.Join(dir, t.name, name)
		if err := os.MkdirAll(qdir, 0o755); err != nil {
			return err
		}
		for k := range draws {
			// Draw 0's stream is the one a single copy has always used, so
			// the evaluation queries stay the same.
			q := t.apply(rgba, rand.New(rand.NewPCG(seed, uint64(ti)|uint64(k)<<32)))
			var buf bytes.Buffer
			if err := png.Encode(&buf, q); err != nil {
				return err
			}
			file := "q.png"
			if k > 0 {
				file = fmt.Sprintf("q%d.png", k)
			}
			if err := os.WriteFile(filepath.Join(qdir, file), buf.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// isValidation reports whether the trainer holds out the training class
// name (an emoji code or photo name) for validation.
func isValidation(name string) bool {
	return dataset.HeldOut(dataset.ValidationSalt, name, valFraction)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
