// Package vectorstore defines the contract of deeprank's vector stores:
// named collections of image vectors, each stamped with the dimension and
// the model version its vectors come from.
//
// A collection refuses vectors and queries of another dimension or model
// version (ErrModelMismatch): vectors of two models never mix, and changing
// models means a reindex. Items are keyed by the SHA-256 of the image's bytes,
// so writing the same image twice is idempotent.
//
// Implementations: the embedded store (package vectorstore/embedded) and
// Milvus (package milvus). Both must pass the conformance suite of package
// vectorstore/storetest. The package imports no other package of deeprank:
// a store knows vectors and metadata, not images or models.
package vectorstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Metric is the distance a collection ranks by. For the unit-length
// vectors of deeprank models all three rank alike; a model's aspect value
// (model.Spec.AspectWeight) makes them a little longer, which COSINE
// nearly follows and IP does not (a product of two shapes' values ranks
// the widest first).
type Metric string

// The metrics.
const (
	// MetricL2 is the Euclidean distance.
	MetricL2 Metric = "L2"
	// MetricCosine is 1 - cosine similarity.
	MetricCosine Metric = "COSINE"
	// MetricIP is the negated inner product.
	MetricIP Metric = "IP"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound is returned when a collection does not exist.
	ErrNotFound = errors.New("collection not found")
	// ErrExists is returned when creating a collection that exists.
	ErrExists = errors.New("collection already exists")
	// ErrModelMismatch is returned for vectors or queries of another
	// dimension or model version than the collection's.
	ErrModelMismatch = errors.New("model mismatch: the collection holds vectors of another model; run `deeprank reindex`, or use the model the collection was made with")
	// ErrInvalid is returned for a bad argument: a name, an id, a k.
	ErrInvalid = errors.New("invalid argument")
)

// Spec fixes what a collection holds.
type Spec struct {
	Dim          int    `json:"dim"`
	Metric       Metric `json:"metric"`
	ModelVersion string `json:"model_version"`
	// Variants is how many vectors an item holds, each Dim long: the
	// whole image's first, then those of its variants (a greyscale copy,
	// crops), so that a query matches a copy of any of them. 0 means 1.
	Variants int `json:"variants,omitempty"`
	// Learned is how many leading values of each vector the model learned,
	// when fewer than Dim; 0 means all of them. The rest describe the image
	// by a fixed rule (a thumbnail, model.Spec.Thumbnail, which keeps where
	// things are, so a crop or a mirror image moves it; the image's shape,
	// model.Spec.AspectWeight): deeprank dupes judges copies by the learned
	// part alone (Spec.LearnedPart).
	Learned int `json:"learned,omitempty"`
}

// PerItem is the number of vectors an item holds: Variants, at least 1.
func (s Spec) PerItem() int { return max(1, s.Variants) }

// ItemLen is the length of an item's Vector: Dim x PerItem.
func (s Spec) ItemLen() int { return s.Dim * s.PerItem() }

// Own is the image's own vector among an item's vectors v: the first Dim
// values, before its variants'.
func (s Spec) Own(v []float32) []float32 { return v[:s.Dim] }

// LearnedDim is the length of the learned part of a vector: Learned, or
// Dim when all of it is.
func (s Spec) LearnedDim() int {
	if s.Learned > 0 {
		return s.Learned
	}
	return s.Dim
}

// LearnedPart is the learned part of own vector v (LearnedDim values), at
// unit length, the model's learned embedding before it shared the vector.
// When all of v is learned it is v itself; otherwise it is written to dst,
// grown as needed, scaled up from the share the vector's other part left
// it (none if it is all zero). The whole of a vector is of unit length but
// for an aspect value (model.Spec.AspectWeight), which the learned part
// does not depend on.
func (s Spec) LearnedPart(dst, v []float32) []float32 {
	if s.Learned <= 0 {
		return v[:s.Dim]
	}
	part := v[:s.Learned]
	var kept float64
	for _, x := range part {
		kept += float64(x) * float64(x)
	}
	scale := float32(0)
	if kept > 0 {
		scale = float32(1 / math.Sqrt(kept))
	}
	dst = append(dst[:0], part...)
	for i := range dst {
		dst[i] *= scale
	}
	return dst
}

// Info describes a collection.
type Info struct {
	Name string `json:"name"`
	Spec
	Count int `json:"count"`
}

// Metadata is stored with each vector.
type Metadata struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	Width   int       `json:"width"`
	Height  int       `json:"height"`
	ModTime time.Time `json:"mod_time"`
	// Class is the name of the image's parent folder.
	Class string `json:"class,omitempty"`
}

// Item is one stored image.
type Item struct {
	// ID is the hex SHA-256 of the image file's bytes.
	ID string `json:"id"`
	// Vector holds the collection's Spec.PerItem vectors one after
	// another: the whole image's first.
	Vector   []float32 `json:"vector,omitempty"`
	Metadata Metadata  `json:"metadata"`
}

// Hit is a search result.
type Hit struct {
	ID       string   `json:"id"`
	Metadata Metadata `json:"metadata"`
	// Distance under the collection's metric: for a unit-length query's
	// own vector, 0 under L2 and COSINE and -1 under IP.
	Distance float32 `json:"distance"`
}

// Filter restricts a search. An item passes when its class is any of
// Classes (none given: any class) and its path starts with any of
// PathPrefixes (none given: any path).
type Filter struct {
	Classes      []string `json:"classes,omitempty"`
	PathPrefixes []string `json:"path_prefixes,omitempty"`
}

// Match reports whether m passes the filter; a nil filter passes all.
func (f *Filter) Match(m Metadata) bool { return f.MatchFields(m.Class, m.Path) }

// MatchFields is Match on an item's class and path alone, for stores that
// keep them apart from the rest of the metadata.
func (f *Filter) MatchFields(class, path string) bool {
	if f == nil {
		return true
	}
	if len(f.Classes) > 0 && !slices.Contains(f.Classes, class) {
		return false
	}
	if len(f.PathPrefixes) == 0 {
		return true
	}
	for _, p := range f.PathPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Store holds collections.
type Store interface {
	// Create makes an empty collection.
	Create(ctx context.Context, name string, spec Spec) error
	// Open returns an existing collection.
	Open(ctx context.Context, name string) (Collection, error)
	// List describes every collection, sorted by name.
	List(ctx context.Context) ([]Info, error)
	// Drop deletes a collection and its vectors.
	Drop(ctx context.Context, name string) error
	// Rebuild replaces the collection name by a new one under spec: it
	// makes the new collection empty, calls fill to write it, then switches
	// name to it in one step, and only after the switch drops the old items.
	// Until the switch, Open(name) gives the old collection; if fill fails,
	// name is left as it was. It is how a collection moves to a new model
	// (deeprank reindex).
	Rebuild(ctx context.Context, name string, spec Spec, fill func(context.Context, Collection) error) error
	// Close releases the store.
	Close() error
}

// Collection is a set of items of one model.
type Collection interface {
	Info(ctx context.Context) (Info, error)
	// Upsert writes items made by modelVersion, replacing those with the
	// same ID. When it returns nil the items are durable.
	Upsert(ctx context.Context, modelVersion string, items []Item) error
	// Delete removes items; unknown IDs are ignored.
	Delete(ctx context.Context, ids []string) error
	// Get returns the items of ids that exist, with their vectors, in the
	// order of ids.
	Get(ctx context.Context, ids []string) ([]Item, error)
	// Search returns the k nearest items to a query vector made by
	// modelVersion, nearest first, among those matching filter (nil: all).
	// The query is Dim long; an item of several vectors is as near as the
	// nearest of them.
	Search(ctx context.Context, modelVersion string, query []float32, k int, filter *Filter) ([]Hit, error)
	// Has reports, for each id, whether the collection holds it, without
	// fetching vectors (ingest's "already stored?" check).
	Has(ctx context.Context, ids []string) ([]bool, error)
	// Count is the number of items.
	Count(ctx context.Context) (int, error)
	// Scan calls fn for every item, in no particular order, until fn
	// returns an error.
	Scan(ctx context.Context, fn func(Item) error) error
}

// BlockReader is implemented by collections that can lend their vectors
// where they are stored, for jobs that read every vector many times and
// should not hold a copy of them all (`deeprank dupes` compares every
// pair). It is optional: where a collection lacks it, Scan reads the same
// items (with all their vectors, where blocks lend the first).
type BlockReader interface {
	// ReadBlocks calls fn with the collection's live items as they are
	// when it starts; they stay so until fn returns, whatever is written
	// meanwhile (writes from this process wait). fn must not call the
	// collection's other methods, which may wait for fn to return.
	ReadBlocks(ctx context.Context, fn func(Blocks) error) error
}

// Blocks is a collection's live items in a fixed order, at positions 0 to
// Len()-1, lent a block at a time.
type Blocks interface {
	// Len is the number of items.
	Len() int
	// Each calls fn with the items from position from on, in order, a
	// block at a time, until the last or until fn returns an error, which
	// Each returns. A block and its slices are valid only until fn
	// returns, and must not be written to.
	Each(ctx context.Context, from int, fn func(Block) error) error
}

// Block is a run of consecutive items lent by Blocks.Each.
type Block struct {
	// Start is the position of the first item.
	Start int
	// IDs holds the items' IDs decoded from hex: 32 bytes an item.
	IDs []byte
	// Vectors holds the items' first vectors (the whole images') one
	// after another, Dim values an item.
	Vectors []float32
}

// Len is the number of items in the block.
func (b Block) Len() int { return len(b.IDs) / 32 }

var (
	nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
)

// ValidName reports whether name can name a collection in every store:
// a letter or underscore, then letters, digits and underscores (Milvus's
// rule), at most 255 characters.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// ValidID reports whether id is a hex SHA-256 (lower case). It runs on
// every item of every write, so it is a loop rather than a regexp.
func ValidID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Valid reports whether m is one of the metrics.
func (m Metric) Valid() bool { return m == MetricL2 || m == MetricCosine || m == MetricIP }

// FromL2 turns a Euclidean distance between unit vectors into the same
// distance under m (for unit vectors, |a-b|^2 = 2 - 2 cos = 2 + 2 IP):
// how a threshold calibrated as Euclidean applies to any collection.
// SquaredL2 is its inverse.
func (m Metric) FromL2(d float32) float32 {
	switch m {
	case MetricCosine:
		return d * d / 2
	case MetricIP:
		return d*d/2 - 1
	}
	return d
}

// SquaredL2 turns a distance under m between unit vectors into their
// squared Euclidean distance: the one scale for hits of every metric.
func (m Metric) SquaredL2(d float32) float64 {
	switch m {
	case MetricCosine:
		return 2 * float64(d)
	case MetricIP:
		return 2 + 2*float64(d)
	}
	return float64(d) * float64(d)
}

// Valid reports whether every store can make a collection under s: a
// positive dimension, a known metric, a model version, no negative
// Variants, and a learned part within the vector but not all of it (that
// is 0). A store may have narrower limits of its own.
func (s Spec) Valid() bool {
	return s.Dim >= 1 && s.Metric.Valid() && s.ModelVersion != "" && s.Variants >= 0 && s.Learned >= 0 && s.Learned < s.Dim
}

// SearchAny returns the k items of c nearest to any of queries, vectors
// of one query (its own and, say, its mirror image's), each at the
// distance of the vector nearest to it, nearest first; items as near
// break ties by the first vector that found them. One vector is a plain
// Search. It is as exact as Search: an item among the k nearest by its
// nearest vector is among that vector's k nearest (though a tie at the
// k-th place may pick another item). The searches run one after another:
// the embedded store's already spreads over every core.
func SearchAny(ctx context.Context, c Collection, modelVersion string, queries [][]float32, k int, filter *Filter) ([]Hit, error) {
	if len(queries) == 0 {
		return nil, fmt.Errorf("%w: no query vectors", ErrInvalid)
	}
	if len(queries) == 1 {
		return c.Search(ctx, modelVersion, queries[0], k, filter)
	}
	at := map[string]int{}
	var out []Hit
	for _, q := range queries {
		hits, err := c.Search(ctx, modelVersion, q, k, filter)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			i, seen := at[h.ID]
			switch {
			case !seen:
				at[h.ID] = len(out)
				out = append(out, h)
			case h.Distance < out[i].Distance:
				out[i].Distance = h.Distance
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Hit) int { return cmp.Compare(a.Distance, b.Distance) })
	return out[:min(k, len(out))], nil
}
