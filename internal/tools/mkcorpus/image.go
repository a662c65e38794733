package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/sync/errgroup"

	"github.com/deeprank/deeprank/imageio"
)

// Limits of the stored images (see the package doc).
const (
	maxSide    = 256 // longest side stored
	minSide    = 32  // shorter sides are tiny
	blankStd   = 3.0 // colour standard deviation (of 255) below which an image is blank
	thumbSide  = 16  // side of the content key's thumbnail
	levelShift = 4   // the thumbnail keeps 8-levelShift bits a channel
	jpegQ      = 90  // quality of stored JPEGs
	svgTimeout = 30 * time.Second
)

// chunk is the number of files decoded in parallel before their results
// are taken in order: it bounds the memory held by finished images.
const chunk = 64

// result is what became of one file: the encoded image and its content
// key, or the reason it was left out.
type result struct {
	key          string
	data         []byte
	ext          string // ".png" or ".jpg"
	w, h         int
	drop, detail string
}

// isInput reports whether mkcorpus reads files named name.
func isInput(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".svg", ".svgz", ".pat":
		return true
	}
	return imageio.IsImageName(name)
}

// processAll runs process on the files (relative to dir) with the given
// number of workers, and hands each result to take in the files' order, so
// that which of two duplicates is kept does not depend on timing.
//
// known maps the SHA-256 of a file's bytes to the result of a file already
// taken (without its encoded image): a file with the same bytes, such as
// one figure in each language of a manual, gets that result undecoded,
// which take then finds a duplicate or drops for the same reason.
func processAll(ctx context.Context, dir string, files []string, workers int, rsvg string, known map[[sha256.Size]byte]result, take func(rel string, r result) error) error {
	for lo := 0; lo < len(files); lo += chunk {
		batch := files[lo:min(lo+chunk, len(files))]
		results := make([]result, len(batch))
		sums := make([][sha256.Size]byte, len(batch))
		hashed := make([]bool, len(batch))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(workers)
		for i, rel := range batch {
			path := filepath.Join(dir, filepath.FromSlash(rel))
			if data, err := os.ReadFile(path); err == nil {
				sums[i], hashed[i] = sha256.Sum256(data), true
				if r, ok := known[sums[i]]; ok {
					results[i] = r
					continue
				}
			}
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				results[i] = process(gctx, path, rsvg)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for i, rel := range batch {
			if err := take(rel, results[i]); err != nil {
				return err
			}
			if _, ok := known[sums[i]]; hashed[i] && !ok {
				r := results[i]
				r.data = nil
				known[sums[i]] = r
			}
		}
	}
	return ctx.Err()
}

// process decodes the image at path, filters it, shrinks it to at most
// maxSide a side, computes its content key and encodes it.
func process(ctx context.Context, path, rsvg string) result {
	img, jpegLike, err := load(ctx, path, rsvg)
	if err != nil {
		return result{drop: dropUndecodable, detail: err.Error()}
	}
	b := img.Bounds()
	if b.Dx() < minSide || b.Dy() < minSide {
		return result{drop: dropTiny, detail: fmt.Sprintf("%dx%d", b.Dx(), b.Dy())}
	}
	small := shrink(img, maxSide)
	thumb, std := summarise(small)
	if std < blankStd {
		return result{drop: dropBlank, detail: fmt.Sprintf("colour std %.2f", std)}
	}
	r := result{key: contentKey(thumb, small.Rect.Dx(), small.Rect.Dy()), w: small.Rect.Dx(), h: small.Rect.Dy(), ext: ".png"}
	var buf bytes.Buffer
	if jpegLike && small.Opaque() {
		r.ext = ".jpg"
		err = jpeg.Encode(&buf, small, &jpeg.Options{Quality: jpegQ})
	} else {
		err = png.Encode(&buf, small)
	}
	if err != nil {
		return result{drop: dropUndecodable, detail: "encode: " + err.Error()}
	}
	r.data = buf.Bytes()
	return r
}

// load decodes the image at path; jpegLike says it was stored lossily
// (JPEG or WebP), so storing it as JPEG loses little.
func load(ctx context.Context, path, rsvg string) (img image.Image, jpegLike bool, err error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg", ".svgz":
		img, err = rasterise(ctx, path, rsvg)
	case ".pat":
		var data []byte
		if data, err = os.ReadFile(path); err == nil {
			img, err = decodePattern(data)
		}
	default:
		img, err = imageio.DecodeFile(path, nil)
		jpegLike = ext == ".jpg" || ext == ".jpeg" || ext == ".webp"
	}
	return img, jpegLike, err
}

// rasterise renders the SVG at path into a maxSide box, keeping its aspect
// ratio, with rsvg-convert.
func rasterise(ctx context.Context, path, rsvg string) (image.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, svgTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, rsvg, "--keep-aspect-ratio", "--width", fmt.Sprint(maxSide), "--height", fmt.Sprint(maxSide), "--format", "png", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("run %s: %w (install librsvg2-bin)", rsvg, err)
		}
		return nil, fmt.Errorf("%s %s: %w: %s", rsvg, path, err, strings.TrimSpace(stderr.String()))
	}
	return imageio.Decode(out, nil)
}

// shrink returns img as NRGBA, scaled down with a Catmull-Rom filter to
// at most side pixels on its long side, aspect kept.
func shrink(img image.Image, side int) *image.NRGBA {
	b := img.Bounds()
	scale := math.Min(1, float64(side)/float64(max(b.Dx(), b.Dy())))
	w := max(1, int(math.Round(float64(b.Dx())*scale)))
	h := max(1, int(math.Round(float64(b.Dy())*scale)))
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	if scale == 1 {
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	} else {
		xdraw.CatmullRom.Scale(dst, dst.Rect, img, b, xdraw.Src, nil)
	}
	return dst
}

// summarise composites img on mid grey and returns its thumbnail
// (thumbSide x thumbSide RGB by area averaging, quantised) and the
// standard deviation of its colours, of 255: the root mean of the red,
// green and blue variances, so that a coloured shape as light as the grey
// it stands on is not blank.
func summarise(img *image.NRGBA) (thumb []byte, std float64) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	var sums [thumbSide * thumbSide * 3]float64
	var counts [thumbSide * thumbSide]float64
	var sum, sum2 [3]float64
	for y := range h {
		ty := y * thumbSide / h
		for x := range w {
			p := img.Pix[y*img.Stride+4*x:][:4]
			a := float64(p[3]) / 255
			var c [3]float64
			for k := range 3 {
				c[k] = float64(p[k])*a + 128*(1-a)
			}
			cell := ty*thumbSide + x*thumbSide/w
			for k := range 3 {
				sums[3*cell+k] += c[k]
			}
			counts[cell]++
			for k := range 3 {
				sum[k] += c[k]
				sum2[k] += c[k] * c[k]
			}
		}
	}
	n := float64(w * h)
	var variance float64
	for k := range 3 {
		mean := sum[k] / n
		variance += max(0, sum2[k]/n-mean*mean) / 3
	}
	std = math.Sqrt(variance)
	thumb = make([]byte, len(sums))
	for i, s := range sums {
		if c := counts[i/3]; c > 0 {
			thumb[i] = byte(math.Round(s/c)) >> levelShift
		}
	}
	return thumb, std
}

// writer writes the layout's images and its index and dropped lists.
type writer struct {
	out              string
	index, dropped   *os.File
	indexW, droppedW *bufio.Writer
	err              error
}

func newWriter(out string) (*writer, error) {
	w := &writer{out: out}
	var err error
	if w.index, err = os.Create(filepath.Join(out, "index.tsv")); err != nil {
		return nil, err
	}
	if w.dropped, err = os.Create(filepath.Join(out, "dropped.tsv")); err != nil {
		w.index.Close()
		return nil, err
	}
	w.indexW, w.droppedW = bufio.NewWriter(w.index), bufio.NewWriter(w.dropped)
	fmt.Fprintln(w.indexW, "path\tsplit\tkind\tsource\tfile\twidth\theight")
	fmt.Fprintln(w.droppedW, "source\tfile\treason\tdetail")
	return w, nil
}

// image stores one kept image and indexes it.
func (w *writer) image(s source, split, rel string, r result) error {
	path := filepath.Join(split, s.Kind, s.Name, r.key+r.ext)
	full := filepath.Join(w.out, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(full, r.data, 0o644); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w.indexW, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", filepath.ToSlash(path), split, s.Kind, s.Name, rel, r.w, r.h)
	return err
}

// drop records a file left out; its write error surfaces in close.
func (w *writer) drop(s source, rel, reason, detail string) {
	detail = strings.NewReplacer("\t", " ", "\n", " ").Replace(detail)
	if _, err := fmt.Fprintf(w.droppedW, "%s\t%s\t%s\t%s\n", s.Name, rel, reason, detail); err != nil && w.err == nil {
		w.err = err
	}
}

// close flushes and closes the lists; it may be called again.
func (w *writer) close() error {
	if w.index == nil {
		return w.err
	}
	err := errors.Join(w.err, w.indexW.Flush(), w.droppedW.Flush(), w.index.Close(), w.dropped.Close())
	w.index, w.err = nil, err
	return err
}

// largest returns the index of the largest image among the files (relative
// to dir): an SVG, which renders at any size, else the one of most pixels.
func largest(dir string, files []string) int {
	best, bestArea := 0, -1
	for i, rel := range files {
		area := 0
		switch strings.ToLower(filepath.Ext(rel)) {
		case ".svg", ".svgz":
			area = math.MaxInt
		default:
			if f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel))); err == nil {
				if cfg, _, err := image.DecodeConfig(bufio.NewReader(f)); err == nil {
					area = cfg.Width * cfg.Height
				}
				f.Close()
			}
		}
		if area > bestArea {
			best, bestArea = i, area
		}
	}
	return best
}
