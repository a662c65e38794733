package rerank

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/deeprank/deeprank/vectorstore"
)

// Hits returns hits, nearest first under metric, with the first o.Top
// ordered again by how each lines up with the query's picture q (Order);
// without q (a search by a vector) they are returned as they are. A hit's
// picture is read from its file (Metadata.Path) by picture, given the
// file's bytes; a file that is gone, cannot be decoded, or no longer holds
// the bytes the hit's ID names (the SHA-256 of the file ingested) gains
// nothing and keeps its place by distance. The files are read
// concurrently, one per core. Distances are left as the search gave them.
func (o Options) Hits(q *Picture, hits []vectorstore.Hit, metric vectorstore.Metric, picture func(data []byte) (*Picture, error)) []vectorstore.Hit {
	if !o.On() || q == nil || len(hits) < 2 {
		return hits
	}
	query := q.NewQuery()
	top := min(o.Top, len(hits))
	matches := make([]Match, top)
	var wg sync.WaitGroup
	// A decode per core at most: more would only hold more memory.
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range top {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			matches[i] = noMatch
			if p, err := hitPicture(hits[i], picture); err == nil {
				matches[i] = o.Match(query, p.Thumb())
			}
		}()
	}
	wg.Wait()
	dist := make([]float64, len(hits))
	for i, h := range hits {
		dist[i] = metric.SquaredL2(h.Distance)
	}
	out := make([]vectorstore.Hit, len(hits))
	for i, j := range o.Order(dist, func(i int) Match { return matches[i] }) {
		out[i] = hits[j]
	}
	return out
}

// Search returns the first k hits of a search, with the first o.Top
// ordered again (Hits). It asks search for the larger of k and o.Top, so
// that a copy the vectors put just beyond the first k is still lined up
// and may come first, and it cuts the hits to k after ordering them.
// Without q (a search by a vector) it asks for k alone. A Top above 1000,
// which Validate refuses, asks for 1000.
func (o Options) Search(k int, q *Picture, metric vectorstore.Metric, picture func(data []byte) (*Picture, error), search func(n int) ([]vectorstore.Hit, error)) ([]vectorstore.Hit, error) {
	n := k
	if o.On() && q != nil {
		n = max(k, min(o.Top, maxTop))
	}
	hits, err := search(n)
	if err != nil {
		return nil, err
	}
	hits = o.Hits(q, hits, metric, picture)
	return hits[:min(k, len(hits))], nil
}

// hitPicture reads the picture of a hit's file, if it still holds the
// image the hit was stored from.
func hitPicture(h vectorstore.Hit, picture func(data []byte) (*Picture, error)) (*Picture, error) {
	data, err := os.ReadFile(h.Metadata.Path)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != h.ID {
		return nil, fmt.Errorf("%s: changed since it was stored", h.Metadata.Path)
	}
	return picture(data)
}
