package dataset_test

import (
	"fmt"
	"strings"

	"github.com/deeprank/deeprank/dataset"
)

func ExampleParseTriplets() {
	file := "cats/1.jpg,cats/2.jpg,dogs/1.jpg\ncats/2.jpg,cats/3.jpg\n"
	ts, err := dataset.ParseTriplets(strings.NewReader(file), "triplets.txt")
	fmt.Println(len(ts), err)
	// Output: 0 triplets.txt:2: malformed triplet: want 3 comma-separated paths (query,positive,negative), got 2 fields
}
