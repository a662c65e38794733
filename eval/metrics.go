// Package eval measures how well vectors rank images: the paper's similarity
// precision over triplets, and Recall@K and mean average precision over a
// labelled gallery. It also computes the simple baselines every model is
// judged against (raw pixels, colour histogram, perceptual hash).
//
// All distances are squared Euclidean. Ties are broken by index, so results
// are deterministic.
package eval

import (
	"fmt"
	"slices"
	"sort"
)

// SquaredDistance is the squared Euclidean distance of two equal-length
// vectors.
func SquaredDistance(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		d := x - b[i]
		s += d * d
	}
	return s
}

// NearestDistance is the squared Euclidean distance from q to the nearest
// of the vectors of item, len(q) values each, one after another: a stored
// image's own and its variants' (model.Spec.Variants), as a store ranks
// it.
func NearestDistance(q, item []float32) float32 {
	d := SquaredDistance(q, item[:len(q)])
	for at := len(q); at < len(item); at += len(q) {
		d = min(d, SquaredDistance(q, item[at:at+len(q)]))
	}
	return d
}

// AnyDistance is the squared distance from the nearest of a query's
// vectors (its variants), queryDim values each one after another in q (0:
// q is one vector), to the nearest of item's vectors (NearestDistance).
func AnyDistance(q []float32, queryDim int, item []float32) float32 {
	if queryDim == 0 {
		return NearestDistance(q, item)
	}
	d := NearestDistance(q[:queryDim], item)
	for at := queryDim; at < len(q); at += queryDim {
		d = min(d, NearestDistance(q[at:at+queryDim], item))
	}
	return d
}

// TripletScore is the paper's similarity precision: the share of triplets
// whose positive is strictly closer to the query than the negative. vec
// gives each triplet's (query, positive, negative) vectors.
func TripletScore(n int, vec func(i int) (q, p, neg []float32)) float64 {
	if n == 0 {
		return 0
	}
	right := 0
	for i := range n {
		q, p, ng := vec(i)
		if SquaredDistance(q, p) < SquaredDistance(q, ng) {
			right++
		}
	}
	return float64(right) / float64(n)
}

// Retrieval holds ranking metrics averaged over queries.
type Retrieval struct {
	Queries int `json:"queries"`
	// Recall maps K to the share of queries with a relevant item among the
	// K nearest (Recall@K as in metric learning).
	Recall map[int]float64 `json:"recall_at"`
	// MAP is the mean over queries of average precision over the whole
	// ranked gallery.
	MAP float64 `json:"map"`
	// Misses are the queries whose nearest item is not relevant, in query
	// order, for a look at what a method gets wrong (MethodResult.Misses
	// names them).
	Misses []Miss `json:"-"`
}

// Miss is a query whose nearest gallery item is not relevant.
type Miss struct {
	// Query is the query's index.
	Query int
	// Rank is the 1-based place of its first relevant item.
	Rank int
	// Nearest is the gallery index of the item ranked first.
	Nearest int
}

// String formats the metrics on one line.
func (r Retrieval) String() string {
	ks := make([]int, 0, len(r.Recall))
	for k := range r.Recall {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf("R@%d %.3f  ", k, r.Recall[k])
	}
	return s + fmt.Sprintf("mAP %.3f (%d queries)", r.MAP, r.Queries)
}

// Rank scores queries against a gallery. A gallery item is relevant to a
// query when their labels are equal, and as near as the nearest of its
// vectors (NearestDistance): a gallery vector may hold several, each as
// long as a query's. With sameSet, queries and gallery are one set and
// each query's own item is left out (leave-one-out). Queries with no
// relevant item are skipped.
func Rank(queries [][]float32, qLabels []int, gallery [][]float32, gLabels []int, sameSet bool, ks []int) Retrieval {
	return RankReordered(queries, qLabels, gallery, gLabels, sameSet, ks, nil, 0)
}

// Reorder orders a query's nearest gallery items again, as a search's
// re-ranking step does (rerank.Options.Order): given the query's index,
// the gallery indexes of its nearest items and their squared distances,
// nearest first, it returns the order to rank them in, as indexes into
// both. nearest and dist are reused for the next query: a Reorder must not
// keep them.
type Reorder func(query int, nearest []int, dist []float64) []int

// RankReordered is Rank with each query's ranking passed through reorder,
// if not nil, before it is scored, and with queries that may each hold
// several vectors, queryDim values each (AnyDistance; 0: one vector).
func RankReordered(queries [][]float32, qLabels []int, gallery [][]float32, gLabels []int, sameSet bool, ks []int, reorder Reorder, queryDim int) Retrieval {
	r := Retrieval{Recall: map[int]float64{}}
	type hit struct {
		d   float32
		rel bool
		idx int
	}
	hits := make([]hit, 0, len(gallery))
	// The reorder's inputs and the ranking it reorders, reused for every
	// query.
	var nearest []int
	var dist []float64
	var was []hit
	var apSum float64
	for qi, q := range queries {
		hits = hits[:0]
		relevant := 0
		for gi, g := range gallery {
			if sameSet && gi == qi {
				continue
			}
			rel := gLabels[gi] == qLabels[qi]
			if rel {
				relevant++
			}
			hits = append(hits, hit{AnyDistance(q, queryDim, g), rel, gi})
		}
		if relevant == 0 {
			continue
		}
		slices.SortFunc(hits, func(a, b hit) int {
			if a.d != b.d {
				if a.d < b.d {
					return -1
				}
				return 1
			}
			return a.idx - b.idx
		})
		if reorder != nil {
			nearest, dist = nearest[:0], dist[:0]
			for _, h := range hits {
				nearest, dist = append(nearest, h.idx), append(dist, float64(h.d))
			}
			was = append(was[:0], hits...)
			for i, j := range reorder(qi, nearest, dist) {
				hits[i] = was[j]
			}
		}
		r.Queries++
		first := -1
		found := 0
		var ap float64
		for i, h := range hits {
			if h.rel {
				if first < 0 {
					first = i
				}
				found++
				ap += float64(found) / float64(i+1)
			}
		}
		apSum += ap / float64(relevant)
		if first > 0 {
			r.Misses = append(r.Misses, Miss{Query: qi, Rank: first + 1, Nearest: hits[0].idx})
		}
		for _, k := range ks {
			if first < k {
				r.Recall[k]++
			}
		}
	}
	if r.Queries > 0 {
		for _, k := range ks {
			r.Recall[k] /= float64(r.Queries)
		}
		r.MAP = apSum / float64(r.Queries)
	} else {
		for _, k := range ks {
			r.Recall[k] = 0
		}
	}
	return r
}
