package rerank_test

import (
	"fmt"

	"github.com/deeprank/deeprank/rerank"
)

// A search found four hits. The third lines up with the query almost
// perfectly (a crop of it, say) and keeps 40 of its corners in place: it
// moves first. The fourth keeps 16 corners, half of what corners can
// earn, and passes the first two, whose line-ups are below the floor and
// whose corners are too few to count.
func ExampleOptions_Order() {
	dist := []float64{0.20, 0.25, 0.40, 0.60} // squared distances, nearest first
	match := []rerank.Match{{NCC: 0.62, Inliers: 2}, {NCC: 0.80, Inliers: 4}, {NCC: 0.99, Inliers: 40}, {NCC: 0.5, Inliers: 16}}
	order := rerank.Default().Order(dist, func(i int) rerank.Match { return match[i] })
	fmt.Println(order)
	// Output: [2 3 0 1]
}
