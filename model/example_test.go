package model_test

import (
	"fmt"
	"math"

	"github.com/deeprank/deeprank/model"
)

func Example() {
	spec := model.DefaultSpec()
	m, err := model.New(spec, model.UnitNormalization())
	if err != nil {
		panic(err)
	}
	m.Initialize(1)
	net, err := model.NewNet(m, nil)
	if err != nil {
		panic(err)
	}
	// Two grey images, laid out (2, 3, 64, 64).
	x := make([]float32, 2*net.InputShape().Size())
	for i := range x {
		x[i] = 0.5
	}
	emb := net.Forward(x, 2)
	var norm float64
	for _, v := range emb[:net.Dim()] {
		norm += float64(v) * float64(v)
	}
	fmt.Printf("%d-dimensional embeddings of length %.3f\n", net.Dim(), math.Sqrt(norm))
	// Output: 128-dimensional embeddings of length 1.000
}

func ExampleSpec_Arch() {
	a, err := model.ReferenceSpec().Arch()
	if err != nil {
		panic(err)
	}
	for _, b := range a.Branches {
		last := b.Layers[len(b.Layers)-1]
		fmt.Printf("%s: %d layers, %d values\n", b.Name, len(b.Layers), last.Out.Size())
	}
	fmt.Println("embedding:", a.Dim())
	// Output:
	// convnet: 24 layers, 4096 values
	// shallow1: 3 layers, 1536 values
	// shallow2: 3 layers, 1536 values
	// embedding: 4096
}
