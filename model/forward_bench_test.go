package model

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/deeprank/deeprank/internal/cputime"
)

// BenchmarkNetForward runs the fast forward pass at batch 32 on one
// worker and on GOMAXPROCS: net=spec is DefaultSpec with Initialize(1)'s
// weights (what the trainer starts from), net=shipped the shipped default
// model (models/default/model.drk, what scripts/bench-peers.sh runs),
// whose shallow branches differ, and net=candidate the model file named by
// DEEPRANK_BENCH_MODEL, when set: a candidate for the default timed beside
// it in one run. images/cpu-s is per second of CPU the process used,
// steadier than images/s on a machine shared with other jobs.
func BenchmarkNetForward(b *testing.B) {
	const batch = 32
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
	if path := os.Getenv("DEEPRANK_BENCH_MODEL"); path != "" {
		candidate, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		models = append(models, struct {
			name string
			m    *Model
		}{"candidate", candidate})
	}
	for _, mod := range models {
		m := mod.m
		rng := rand.New(rand.NewPCG(1, 1))
		x := randomValues(rng, batch*m.Spec.InputSize*m.Spec.InputSize*3)
		for _, workers := range []int{1, 0} {
			b.Run(fmt.Sprintf("net=%s/workers=%d", mod.name, workers), func(b *testing.B) {
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

// BenchmarkConvLayers runs each convolution of the shipped default model
// (with the max-pool fused into it) on one image, and reports the GFLOP/s
// of its multiply-adds: where a forward pass's time goes, layer by layer,
// and how near each comes to the kernel's peak.
func BenchmarkConvLayers(b *testing.B) {
	m, err := Load("../models/default/model.drk")
	if err != nil {
		b.Fatal(err)
	}
	net, err := NewNet(m, &NetOptions{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, steps := range net.branches {
		filters := packed(net, steps)
		for _, st := range steps {
			if st.Kind != Conv {
				continue
			}
			// Alone, with its input and output laid out plainly: in the
			// pass, the backbone's stages hand each other padded
			// layouts instead (and skip a copy each).
			st.inPadded, st.outPadded = false, nil
			l := st.Layer
			img := randomValues(rng, l.In.Size())
			sc := new(scratch)
			path := "windows"
			if st.implicit != nil {
				path = "implicit"
			}
			flop := 2 * float64(l.Out.Size()*l.In.C*l.Kernel*l.Kernel)
			b.Run(fmt.Sprintf("%s/k=%d/s=%d/in=%dx%dx%d/out=%d/%s", l.Name, l.Kernel, l.Stride, l.In.C, l.In.H, l.In.W, l.Out.C, path), func(b *testing.B) {
				for b.Loop() {
					net.image([]step{st}, img, filters, sc)
				}
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
