package trainer

import (
	"math/rand/v2"
	"testing"

	"github.com/deeprank/deeprank/model"
)

// BenchmarkForward measures the fast forward pass beside gorgonia's forward
// pass for the same spec and weights, in one run; compare the images/s.
func BenchmarkForward(b *testing.B) {
	const batch = 32
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		b.Fatal(err)
	}
	m.Initialize(1)
	x := randomInput(rand.New(rand.NewPCG(1, 1)), batch*m.Spec.InputSize*m.Spec.InputSize*3)
	b.Run("engine=fast", func(b *testing.B) {
		net, err := model.NewNet(m, nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			net.Forward(x, batch)
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("engine=fast-1worker", func(b *testing.B) {
		net, err := model.NewNet(m, &model.NetOptions{Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			net.Forward(x, batch)
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("engine=gorgonia", func(b *testing.B) {
		gf, err := newGraphForward(m, batch)
		if err != nil {
			b.Fatal(err)
		}
		defer gf.Close()
		for b.Loop() {
			if _, err := gf.Forward(x); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	})
}
