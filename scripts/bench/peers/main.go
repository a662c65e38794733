// Command peers is deeprank's side of scripts/bench-peers.sh, which measures
// deeprank's forward pass beside ONNX Runtime's and PyTorch's on the same
// network. It is benchmark tooling, not part of the product.
//
//	peers arch -model M                    the resolved layers of M as JSON
//	peers dump -model M -images DIR -n N -out DIR
//	                                       N photos as M's input tensors
//	                                       (inputs.f32) and M's embeddings of
//	                                       them (deeprank.f32), for parity
//	peers spec -out M                      a model of model.DefaultSpec with
//	                                       Initialize(1)'s weights: the
//	                                       network BenchmarkTrainStep trains
//	peers forward -model M -threads 1,2 -seconds S -batch 32
//	                                       forward images/s and images per
//	                                       CPU-second, one line a thread count
//
// The .f32 files are raw little-endian float32, (N, 3, size, size) and
// (N, dim). Threads are GOMAXPROCS and the Net's workers alike, as
// BenchmarkNetForward's workers=0 case runs them.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/cputime"
	"github.com/deeprank/deeprank/model"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peers arch|dump|spec|forward [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{"arch": archCmd, "dump": dumpCmd, "spec": specCmd, "forward": forwardCmd}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "peers: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// jsonLayer is one layer as the Python side reads it: shapes as (C, H, W),
// padding as (top, bottom, left, right).
type jsonLayer struct {
	Kind   string  `json:"kind"`
	Name   string  `json:"name,omitempty"`
	Kernel int     `json:"kernel,omitempty"`
	Stride int     `json:"stride,omitempty"`
	Pad    [4]int  `json:"pad"`
	ReLU   bool    `json:"relu"`
	Rate   float64 `json:"rate,omitempty"`
	In     [3]int  `json:"in"`
	Out    [3]int  `json:"out"`
}

type jsonArch struct {
	Input    [3]int `json:"input"`
	Branches []struct {
		Name   string      `json:"name"`
		Layers []jsonLayer `json:"layers"`
	} `json:"branches"`
	Head      []jsonLayer `json:"head"`
	L2Epsilon float64     `json:"l2_epsilon"`
}

func shape(s model.Shape) [3]int { return [3]int{s.C, s.H, s.W} }

func layers(ls []model.Layer) []jsonLayer {
	var out []jsonLayer
	for _, l := range ls {
		out = append(out, jsonLayer{
			Kind: l.Kind.String(), Name: l.Name, Kernel: l.Kernel, Stride: l.Stride,
			Pad:  [4]int{l.Pad.Top, l.Pad.Bottom, l.Pad.Left, l.Pad.Right},
			ReLU: l.ReLU, Rate: l.Rate, In: shape(l.In), Out: shape(l.Out),
		})
	}
	return out
}

// loadNetwork loads a model file for the comparison: its network alone.
// The peers run the network once per image; a model's views
// (Spec.CenterViews, GreyView, TrimView) are further passes of the same
// network, left out so that every side times and embeds the same single
// pass.
func loadNetwork(path string) (*model.Model, error) {
	m, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	m.Spec.CenterViews, m.Spec.GreyView, m.Spec.TrimView = nil, 0, 0
	return m, nil
}

func archCmd(args []string) error {
	fl := flag.NewFlagSet("arch", flag.ExitOnError)
	path := fl.String("model", "models/default/model.drk", "model file")
	_ = fl.Parse(args)
	m, err := loadNetwork(*path)
	if err != nil {
		return err
	}
	a, err := m.Spec.Arch()
	if err != nil {
		return fmt.Errorf("resolve %s: %w", *path, err)
	}
	ja := jsonArch{Input: shape(a.Input), Head: layers(a.Head), L2Epsilon: model.L2Epsilon}
	for _, b := range a.Branches {
		ja.Branches = append(ja.Branches, struct {
			Name   string      `json:"name"`
			Layers []jsonLayer `json:"layers"`
		}{b.Name, layers(b.Layers)})
	}
	return json.NewEncoder(os.Stdout).Encode(ja)
}

func dumpCmd(args []string) error {
	fl := flag.NewFlagSet("dump", flag.ExitOnError)
	path := fl.String("model", "models/default/model.drk", "model file")
	images := fl.String("images", "data/sample", "folder of photos (JPEG or PNG, searched recursively)")
	n := fl.Int("n", 32, "how many photos")
	out := fl.String("out", ".", "folder for inputs.f32 and deeprank.f32")
	_ = fl.Parse(args)
	m, err := loadNetwork(*path)
	if err != nil {
		return err
	}
	var paths []string
	err = filepath.WalkDir(*images, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png":
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list photos: %w", err)
	}
	slices.Sort(paths)
	if len(paths) < *n {
		return fmt.Errorf("%s holds %d photos, want %d (scripts/fetch-sample.sh fetches them)", *images, len(paths), *n)
	}
	paths = paths[:*n]
	size := m.Spec.InputSize
	per := 3 * size * size
	x := make([]float32, len(paths)*per)
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read photo: %w", err)
		}
		square, _, err := imageio.DecodeSquare(data, m.Spec.SquareSide(), nil)
		if err != nil {
			return fmt.Errorf("decode %s: %w", p, err)
		}
		model.ToTensor(embedder.Prepare(m.Spec, square), m.Normalization, x[i*per:(i+1)*per])
	}
	net, err := model.NewNet(m, nil)
	if err != nil {
		return err
	}
	emb := net.Forward(x, len(paths))
	if err := writeF32(filepath.Join(*out, "inputs.f32"), x); err != nil {
		return err
	}
	if err := writeF32(filepath.Join(*out, "deeprank.f32"), emb); err != nil {
		return err
	}
	fmt.Printf("dump: %d photos from %s, input (%d, 3, %d, %d), embedding (%d, %d), BLAS %s\n",
		len(paths), *images, len(paths), size, size, len(paths), net.Dim(), model.BLAS())
	return nil
}

func writeF32(path string, v []float32) error {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func specCmd(args []string) error {
	fl := flag.NewFlagSet("spec", flag.ExitOnError)
	out := fl.String("out", "defaultspec.drk", "model file to write")
	_ = fl.Parse(args)
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		return err
	}
	m.Initialize(1)
	_, err = m.Save(*out)
	return err
}

func forwardCmd(args []string) error {
	fl := flag.NewFlagSet("forward", flag.ExitOnError)
	path := fl.String("model", "models/default/model.drk", "model file")
	threadList := fl.String("threads", "1,2", "thread counts, comma-separated")
	seconds := fl.Float64("seconds", 3, "seconds of timed batches per thread count")
	batch := fl.Int("batch", 32, "images per forward pass")
	_ = fl.Parse(args)
	m, err := loadNetwork(*path)
	if err != nil {
		return err
	}
	// Random inputs, as BenchmarkNetForward's: the time does not depend on
	// the values.
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, *batch*3*m.Spec.InputSize*m.Spec.InputSize)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	for _, f := range strings.Split(*threadList, ",") {
		t, err := strconv.Atoi(f)
		if err != nil || t < 1 {
			return errors.New("-threads: want positive integers, comma-separated")
		}
		runtime.GOMAXPROCS(t)
		net, err := model.NewNet(m, &model.NetOptions{Workers: t})
		if err != nil {
			return err
		}
		net.Forward(x, *batch) // warm-up: buffers and caches
		start, cpu0, n := time.Now(), cputime.Seconds(), 0
		for time.Since(start).Seconds() < *seconds {
			net.Forward(x, *batch)
			n++
		}
		images := float64(n * *batch)
		fmt.Printf("threads=%d images/s=%.1f images/cpu-s=%.1f batches=%d blas=%q\n",
			t, images/time.Since(start).Seconds(), images/(cputime.Seconds()-cpu0), n, model.BLAS())
	}
	return nil
}
