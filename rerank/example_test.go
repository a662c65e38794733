package rerank_test

import (
	"fmt"

	"github.com/deeprank/deeprank/rerank"
)

// A search found three hits; the third lines up with the query almost
// perfectly (a crop of it, say) and moves first. The second's line-up is
// below the floor and gains nothing.
func ExampleOptions_Order() {
	dist := []float64{0.20, 0.25, 0.40} // squared distances, nearest first
	match := []float64{0.62, 0.80, 0.99}
	order := rerank.Default().Order(dist, func(i int) float64 { return match[i] })
	fmt.Println(order)
	// Output: [2 0 1]
}
