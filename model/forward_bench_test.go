package model

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/deeprank/deeprank/internal/cputime"
	gosgemm "github.com/deeprank/deeprank/internal/sgemm"
)

// BenchmarkNetForward runs the fast forward pass at batch 32 with each
// BLAS in turn (gonum, internal/sgemm, and OpenBLAS in a build with the
// openblas tag), on one worker and on GOMAXPROCS, in one run so the
// images/s compare: net=spec is DefaultSpec with Initialize(1)'s weights
// (what the trainer starts from), net=shipped the shipped default model
// (models/default/model.drk, what scripts/bench-peers.sh runs), whose
// shallow branches differ. images/cpu-s is per second of CPU the process
// used, steadier than images/s on a machine shared with other jobs.
func BenchmarkNetForward(b *testing.B) {
	const batch = 32
	impls := []struct {
		name string
		impl blas.Float32Level3
	}{{"gonum", gonum.Implementation{}}, {"sgemm", gosgemm.Implementation{}}}
	if blasName != gosgemm.Describe() {
		impls = append(impls, struct {
			name string
			impl blas.Float32Level3
		}{"openblas", sgemm})
	}
	spec, err := New(DefaultSpec(), UnitNormalization())
	if err != nil {
		b.Fatal(err)
	}
	spec.Initialize(1)
	shipped, err := Load("../models/default/model.drk")
	if err != nil {
		b.Fatal(err)
	}
	models := []struct {
		name string
		m    *Model
	}{{"spec", spec}, {"shipped", shipped}}
	saved := sgemm
	defer func() { sgemm = saved }()
	for _, mod := range models {
		m := mod.m
		rng := rand.New(rand.NewPCG(1, 1))
		x := make([]float32, batch*m.Spec.InputSize*m.Spec.InputSize*3)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		for _, workers := range []int{1, 0} {
			for _, im := range impls {
				b.Run(fmt.Sprintf("net=%s/workers=%d/blas=%s", mod.name, workers, im.name), func(b *testing.B) {
					sgemm = im.impl
					net, err := NewNet(m, &NetOptions{Workers: workers})
					if err != nil {
						b.Fatal(err)
					}
					cpu0 := cputime.Seconds()
					for b.Loop() {
						net.Forward(x, batch)
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
					if cpu := cputime.Seconds() - cpu0; cpu > 0 {
						b.ReportMetric(float64(b.N*batch)/cpu, "images/cpu-s")
					}
				})
			}
		}
	}
}

// BenchmarkIm2col lays out one image's windows for the default model's
// convolutions that still go through im2col (those implicitConv does not
// take), a whole image at a time, and reports values laid out per second.
func BenchmarkIm2col(b *testing.B) {
	m, err := Load("../models/default/model.drk")
	if err != nil {
		b.Fatal(err)
	}
	a, err := m.Spec.Arch()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, br := range a.Branches {
		for _, st := range compile(br.Layers) {
			if st.Kind != Conv || st.implicit != nil {
				continue
			}
			l := st.Layer
			img := randomValues(rng, l.In.Size())
			col := make([]float32, l.In.C*l.Kernel*l.Kernel*l.Out.H*l.Out.W)
			b.Run(fmt.Sprintf("%s/k=%d/s=%d/in=%dx%dx%d", l.Name, l.Kernel, l.Stride, l.In.C, l.In.H, l.In.W), func(b *testing.B) {
				for b.Loop() {
					im2col(l, img, col, 0, l.Out.H)
				}
				b.ReportMetric(float64(len(col)*b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
			})
		}
	}
}
