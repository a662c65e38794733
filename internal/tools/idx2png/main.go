// Command idx2png writes an MNIST-style IDX image set as PNG files in one
// folder per class, the layout `deeprank train` reads with data.classes.
//
//	go run ./internal/tools/idx2png -images X.gz -labels Y.gz -out DIR [-limit N] [-names a,b,...]
package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/deeprank/deeprank/internal/idx"
)

func main() {
	images := flag.String("images", "", "IDX file of images (N, rows, cols), gzipped or not")
	labels := flag.String("labels", "", "IDX file of labels (N)")
	out := flag.String("out", "", "output folder; one subfolder per class")
	limit := flag.Int("limit", 0, "write at most this many images (0: all)")
	names := flag.String("names", "", "comma-separated class folder names, by label (default: the label number)")
	prefix := flag.String("prefix", "img", "file name prefix")
	flag.Parse()
	if err := run(*images, *labels, *out, *limit, *names, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "idx2png:", err)
		os.Exit(1)
	}
}

func run(imagesPath, labelsPath, out string, limit int, names, prefix string) error {
	if imagesPath == "" || labelsPath == "" || out == "" {
		return fmt.Errorf("-images, -labels and -out are required")
	}
	imgs, err := idx.ReadFile(imagesPath)
	if err != nil {
		return err
	}
	labs, err := idx.ReadFile(labelsPath)
	if err != nil {
		return err
	}
	if len(imgs.Dims) != 3 || len(labs.Dims) != 1 || imgs.Dims[0] != labs.Dims[0] {
		return fmt.Errorf("images %v and labels %v do not match", imgs.Dims, labs.Dims)
	}
	var classNames []string
	if names != "" {
		classNames = strings.Split(names, ",")
	}
	n, rows, cols := imgs.Dims[0], imgs.Dims[1], imgs.Dims[2]
	if limit > 0 {
		n = min(n, limit)
	}
	for i := range n {
		l := int(labs.Data[i])
		class := fmt.Sprint(l)
		if l < len(classNames) {
			class = classNames[l]
		}
		dir := filepath.Join(out, class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		g := &image.Gray{Pix: imgs.Data[i*rows*cols : (i+1)*rows*cols], Stride: cols, Rect: image.Rect(0, 0, cols, rows)}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s%05d.png", prefix, i)))
		if err != nil {
			return err
		}
		if err := png.Encode(f, g); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d images to %s\n", n, out)
	return nil
}
