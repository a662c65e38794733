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

// BenchmarkNetForward runs the fast forward pass of the default spec at
// batch 32 with each BLAS in turn (gonum, internal/sgemm, and OpenBLAS in
// a build with the openblas tag), on one worker and on GOMAXPROCS, in one
// run so the images/s compare. images/cpu-s is per second of CPU the
// process used, steadier than images/s on a machine shared with other jobs.
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
	m, err := New(DefaultSpec(), UnitNormalization())
	if err != nil {
		b.Fatal(err)
	}
	m.Initialize(1)
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, batch*m.Spec.InputSize*m.Spec.InputSize*3)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	saved := sgemm
	defer func() { sgemm = saved }()
	for _, workers := range []int{1, 0} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("workers=%d/blas=%s", workers, im.name), func(b *testing.B) {
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
