package eval

import (
	"context"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/rerank"
	"github.com/deeprank/deeprank/vectorstore"
)

// baselineSize is the side images are resized to for the baselines, the
// same whatever the model's input size.
const baselineSize = 64

// recallKs are the cut-offs of Recall@K in reports.
var recallKs = []int{1, 5, 10}

// Set is what an evaluation runs on: labelled images, triplets, or both.
// Paths are relative to Root.
type Set struct {
	Root string
	// Paths and Labels are a labelled gallery for Recall@K and mAP.
	// Without queries, every gallery image queries all the others
	// (leave-one-out). Optional.
	Paths  []string
	Labels []int
	// QueryPaths and QueryLabels, when set, are the queries, ranked
	// against the whole gallery. A query is relevant to gallery items of its
	// label; a query whose label is in no gallery item is left out.
	QueryPaths  []string
	QueryLabels []int
	// Triplets give the similarity precision. Optional.
	Triplets []dataset.Triplet
}

// Options says which methods to evaluate besides the baselines.
type Options struct {
	// Models are evaluated under their names, in order.
	Models []NamedModel
	// Workers decode images; 0 means GOMAXPROCS.
	Workers int
	// Thresholds, if set, adds a copy-detection threshold report for each
	// model on sets of queries and a gallery (the baselines' distances
	// are on other scales).
	Thresholds *ThresholdOptions
	// Cache, if set, keeps each method's vector of each image file across
	// the Runs that share it, so that an image in several sets (a suite's
	// sets often share a gallery) is decoded and described once. It must
	// serve one Models list and one Rerank only: vectors are keyed by
	// method name.
	Cache *Cache
	// Rerank, when on, orders each model's first hits again by how the
	// pictures line up, as a search does (package rerank); the baselines
	// keep their own order.
	Rerank rerank.Options
	// QueryVariants ranks each query of a set of queries and a gallery by
	// the nearest of its variants, as a search does
	// (embedder.QueryVariants, config's query.variants). A query that is
	// also a gallery image, and a gallery ranked against itself, are
	// ranked by the image's own vector.
	QueryVariants bool
}

// Cache holds the vectors Run computed, by method name and image file. The
// zero value is not usable: make one with NewCache. Not safe for concurrent
// Runs.
type Cache struct {
	vecs map[string]map[string][]float32
	// pics holds each model's pictures for re-ranking, by model name and
	// image file.
	pics map[string]map[string]*rerank.Picture
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{vecs: map[string]map[string][]float32{}, pics: map[string]map[string]*rerank.Picture{}}
}

// pictures returns a model's pictures, by file.
func (c *Cache) pictures(name string) map[string]*rerank.Picture {
	m := c.pics[name]
	if m == nil {
		m = map[string]*rerank.Picture{}
		c.pics[name] = m
	}
	return m
}

// method returns the vectors of one method, by file.
func (c *Cache) method(name string) map[string][]float32 {
	m := c.vecs[name]
	if m == nil {
		m = map[string][]float32{}
		c.vecs[name] = m
	}
	return m
}

// NamedModel is a model with the name its report row carries.
type NamedModel struct {
	Name  string
	Model *model.Model
}

// MethodResult is one row of a report.
type MethodResult struct {
	Method string `json:"method"`
	// Precision is the similarity precision on the set's triplets (-1
	// without triplets).
	Precision float64 `json:"similarity_precision"`
	// Retrieval is nil without labels.
	Retrieval *Retrieval `json:"retrieval,omitempty"`
	// CopyDetection is the threshold report, for models on sets of
	// queries and a gallery when Options.Thresholds asks for it.
	CopyDetection *Thresholds `json:"copy_detection,omitempty"`
	// Misses are the queries a model ranks another image first for, in
	// query order (the baselines' rows leave them out).
	Misses []MissedQuery `json:"misses,omitempty"`
}

// MissedQuery is a query whose first hit is not relevant (Miss), by path
// (joined to Set.Root).
type MissedQuery struct {
	Query string `json:"query"`
	// Rank is the 1-based place of its first relevant image.
	Rank int `json:"rank"`
	// Nearest is the image ranked first.
	Nearest string `json:"nearest"`
}

// Report holds the results of every method on one set.
type Report struct {
	Images   int `json:"images"`
	Triplets int `json:"triplets"`
	// Rerank is the re-ranking the models' rows were ranked with, if any.
	Rerank *rerank.Options `json:"rerank,omitempty"`
	// QueryVariants reports whether the models' rows ranked each query by
	// its variants (Options.QueryVariants).
	QueryVariants bool           `json:"query_variants,omitempty"`
	Results       []MethodResult `json:"results"`
}

// Run evaluates the models of opts and every baseline on set.
func Run(ctx context.Context, set Set, opts Options) (*Report, error) {
	var paths []string
	seen := map[string]bool{}
	for _, p := range append(slices.Clone(set.Paths), set.QueryPaths...) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	for _, t := range set.Triplets {
		for _, p := range [3]string{t.Query, t.Positive, t.Negative} {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("evaluate: no images")
	}
	cache := opts.Cache
	if cache == nil {
		cache = NewCache()
	}
	// Only images the cache lacks are decoded and described: every
	// method of a Run fills the same files, so the first method tells.
	file := func(p string) string { return filepath.Join(set.Root, p) }
	first := Baselines()[0].Name
	if len(opts.Models) > 0 {
		first = opts.Models[0].Name
	}
	// A model with variants (model.Spec.Variants) gives the gallery's
	// images all their vectors, as a collection stores them, and the
	// queries their own: those are cached apart.
	inGallery := map[string]bool{}
	for _, p := range set.Paths {
		inGallery[p] = true
	}
	// storesAll reports whether nm gives p all its vectors.
	storesAll := func(nm NamedModel, p string) bool { return inGallery[p] && nm.Model.Spec.PerItem() > 1 }
	stored := func(nm NamedModel) map[string][]float32 { return cache.method(nm.Name + "\x00stored") }
	// A query's variants are cached apart too: the same file may be
	// another set's gallery image.
	asQuery := map[string]bool{}
	if opts.QueryVariants {
		for _, p := range set.QueryPaths {
			asQuery[p] = !inGallery[p]
		}
	}
	queryVariants := func(nm NamedModel) map[string][]float32 { return cache.method(nm.Name + "\x00query") }
	var todo []string
	for _, p := range paths {
		_, ok := cache.method(first)[file(p)]
		for _, nm := range opts.Models {
			if _, have := stored(nm)[file(p)]; storesAll(nm, p) && !have {
				ok = false
			}
			if _, have := queryVariants(nm)[file(p)]; asQuery[p] && !have {
				ok = false
			}
		}
		if !ok {
			todo = append(todo, p)
		}
	}
	sizes := []int{baselineSize}
	for _, nm := range opts.Models {
		sizes = append(sizes, nm.Model.Spec.SquareSide())
	}
	imgs, err := decodeAll(ctx, set.Root, todo, sizes, opts.Workers)
	if err != nil {
		return nil, err
	}
	// vectors returns the method's vectors of the set's images by path,
	// describing the new ones with describe.
	vectors := func(method string, describe func(todo []string) map[string][]float32) map[string][]float32 {
		known := cache.method(method)
		for p, v := range describe(todo) {
			known[file(p)] = v
		}
		vecs := make(map[string][]float32, len(paths))
		for _, p := range paths {
			vecs[p] = known[file(p)]
		}
		return vecs
	}
	rep := &Report{Images: len(paths), Triplets: len(set.Triplets)}
	if opts.Rerank.On() && len(opts.Models) > 0 {
		rep.Rerank = &opts.Rerank
	}
	rep.QueryVariants = opts.QueryVariants && len(opts.Models) > 0
	for mi, nm := range opts.Models {
		net, err := model.NewNet(nm.Model, nil)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", nm.Name, err)
		}
		spec, dim := nm.Model.Spec, embedder.VectorDim(net, nm.Model.Spec)
		ownVecs, all := cache.method(nm.Name), stored(nm)
		squares := func(p string) []*image.RGBA {
			switch {
			case storesAll(nm, p):
				return embedder.ItemSquares(spec, imgs[p].squares[mi+1], imgs[p].full)
			case asQuery[p]:
				return embedder.QueryVariants(spec, imgs[p].squares[mi+1], imgs[p].full)
			}
			return []*image.RGBA{embedder.Prepare(spec, imgs[p].squares[mi+1])}
		}
		for p, v := range embedder.EmbedSquares(net, nm.Model.Normalization, todo, squares) {
			if a := embedder.Aspects(spec, imgs[p].full, storesAll(nm, p)); a != nil {
				if asQuery[p] {
					a = embedder.QueryAspects(a, len(v)/net.Dim())
				}
				v = embedder.WithAspects(v, net.Dim(), a)
			}
			ownVecs[file(p)] = ownVector(v, dim)
			switch {
			case asQuery[p]:
				queryVariants(nm)[file(p)] = v
			case len(v) > dim:
				all[file(p)] = v
			}
		}
		vecs := make(map[string][]float32, len(paths))
		for _, p := range paths {
			vecs[p] = ownVecs[file(p)]
			if storesAll(nm, p) {
				vecs[p] = all[file(p)]
			}
			if asQuery[p] {
				vecs[p] = queryVariants(nm)[file(p)]
			}
		}
		var reorder Reorder
		if opts.Rerank.On() {
			pics := cache.pictures(nm.Name)
			for _, p := range todo {
				pics[file(p)] = rerank.NewPicture(imgs[p].squares[mi+1], imgs[p].full)
			}
			reorder = reranking(set, opts.Rerank, func(p string) *rerank.Picture { return pics[file(p)] })
		}
		r := score(nm.Name, set, paths, vecs, dim, reorder, asQuery)
		r.Misses = missedQueries(set, r.Retrieval)
		if opts.Thresholds != nil && len(set.QueryPaths) > 0 {
			// Thresholds are for deeprank dupes, which compares the learned
			// part of images' own vectors, as a collection records it.
			vs := vectorstore.Spec{Dim: dim, Learned: embedder.Learned(net, spec)}
			compared := func(paths []string) [][]float32 {
				out := own(lookup(vecs, paths), dim)
				for i, v := range out {
					out[i] = vs.LearnedPart(nil, v)
				}
				return out
			}
			r.CopyDetection = copyThresholds(compared(set.QueryPaths), set.QueryLabels, compared(set.Paths), set.Labels, *opts.Thresholds)
		}
		rep.Results = append(rep.Results, r)
	}
	for _, b := range Baselines() {
		vecs := vectors(b.Name, func(todo []string) map[string][]float32 {
			out := make(map[string][]float32, len(todo))
			for _, p := range todo {
				out[p] = b.Describe(imgs[p].squares[0])
			}
			return out
		})
		rep.Results = append(rep.Results, score(b.Name, set, paths, vecs, 0, nil, nil))
	}
	return rep, nil
}

// decoded is an image squared to each size decodeAll was given, in order,
// and its own size before (for a rotated or downscaled variant).
type decoded struct {
	squares []*image.RGBA
	full    image.Point
}

// decodeAll decodes every image once and squares it to each size.
func decodeAll(ctx context.Context, root string, paths []string, sizes []int, workers int) (map[string]decoded, error) {
	imgs, err := imageio.LoadAll(ctx, root, paths, slices.Max(sizes), workers, func(img image.Image, full image.Rectangle) decoded {
		d := decoded{squares: make([]*image.RGBA, len(sizes)), full: full.Size()}
		for i, s := range sizes {
			d.squares[i] = imageio.SquareReduced(img, full, s)
		}
		return d
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	return imgs, nil
}

// score ranks the set by vecs: the gallery's may hold several vectors of
// dim values each (a model's variants), and so may the queries asQuery
// holds (their variants, Options.QueryVariants); triplets and other
// queries use the first. dim 0: every vector is one.
func score(name string, set Set, paths []string, vecs map[string][]float32, dim int, reorder Reorder, asQuery map[string]bool) MethodResult {
	r := MethodResult{Method: name, Precision: -1}
	first := func(p string) []float32 { return ownVector(vecs[p], dim) }
	if len(set.Triplets) > 0 {
		r.Precision = TripletScore(len(set.Triplets), func(i int) (q, p, n []float32) {
			t := set.Triplets[i]
			return first(t.Query), first(t.Positive), first(t.Negative)
		})
	}
	if len(set.Labels) > 0 {
		g := lookup(vecs, set.Paths)
		var ret Retrieval
		if len(set.QueryPaths) > 0 {
			queries := lookup(vecs, set.QueryPaths)
			for i, p := range set.QueryPaths {
				if !asQuery[p] {
					queries[i] = ownVector(queries[i], dim)
				}
			}
			ret = RankReordered(queries, set.QueryLabels, g, set.Labels, false, recallKs, reorder, dim)
		} else {
			ret = RankReordered(own(g, dim), set.Labels, g, set.Labels, true, recallKs, reorder, 0)
		}
		r.Retrieval = &ret
	}
	return r
}

// missedQueries names ret's misses by path: the set's queries (its
// gallery when it is ranked against itself) and the gallery.
func missedQueries(set Set, ret *Retrieval) []MissedQuery {
	if ret == nil || len(ret.Misses) == 0 {
		return nil
	}
	queries := set.QueryPaths
	if len(queries) == 0 {
		queries = set.Paths
	}
	out := make([]MissedQuery, len(ret.Misses))
	for i, m := range ret.Misses {
		out[i] = MissedQuery{Query: filepath.Join(set.Root, queries[m.Query]), Rank: m.Rank, Nearest: filepath.Join(set.Root, set.Paths[m.Nearest])}
	}
	return out
}

// reranking is the Reorder of a set's rankings under o, with the
// pictures of its images by path: the queries' (the gallery's when it is
// ranked against itself) line up with the gallery's.
func reranking(set Set, o rerank.Options, picture func(path string) *rerank.Picture) Reorder {
	queries := set.QueryPaths
	if len(queries) == 0 {
		queries = set.Paths
	}
	thumbs := make([]*rerank.Thumb, len(set.Paths))
	return func(qi int, nearest []int, dist []float64) []int {
		q := picture(queries[qi]).NewQuery()
		return o.Order(dist, func(i int) rerank.Match {
			g := nearest[i]
			if thumbs[g] == nil {
				thumbs[g] = picture(set.Paths[g]).Thumb()
			}
			return o.Match(q, thumbs[g])
		})
	}
}

// own is ownVector of each of vecs.
func own(vecs [][]float32, dim int) [][]float32 {
	if dim == 0 {
		return vecs
	}
	out := make([][]float32, len(vecs))
	for i, v := range vecs {
		out[i] = ownVector(v, dim)
	}
	return out
}

// ownVector is v's first dim values, an image's own vector; dim 0: v.
func ownVector(v []float32, dim int) []float32 {
	if dim == 0 {
		return v
	}
	return v[:dim]
}

func lookup(vecs map[string][]float32, paths []string) [][]float32 {
	out := make([][]float32, len(paths))
	for i, p := range paths {
		out[i] = vecs[p]
	}
	return out
}

// header and cells give the report's table, shared by the writers.
func header() []string {
	h := []string{"method", "sim. precision"}
	for _, k := range recallKs {
		h = append(h, fmt.Sprintf("R@%d", k))
	}
	return append(h, "mAP")
}

func (r *Report) cells() [][]string {
	cell := func(v float64, ok bool) string {
		if !ok {
			return "-"
		}
		return fmt.Sprintf("%.4f", v)
	}
	var rows [][]string
	for _, m := range r.Results {
		row := []string{m.Method, cell(m.Precision, m.Precision >= 0)}
		ret := m.Retrieval
		for _, k := range recallKs {
			row = append(row, cell(ret.at(k), ret != nil))
		}
		rows = append(rows, append(row, cell(ret.mean(), ret != nil)))
	}
	return rows
}

func (r *Retrieval) at(k int) float64 {
	if r == nil {
		return 0
	}
	return r.Recall[k]
}

func (r *Retrieval) mean() float64 {
	if r == nil {
		return 0
	}
	return r.MAP
}

// WriteTable prints the report as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range append([][]string{header()}, r.cells()...) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	fmt.Fprintf(tw, "(%d images, %d triplets)\n", r.Images, r.Triplets)
	if err := tw.Flush(); err != nil {
		return err
	}
	r.writeThresholds(w, false)
	return nil
}

func (r *Report) writeThresholds(w io.Writer, markdown bool) {
	for _, m := range r.Results {
		if m.CopyDetection != nil {
			m.CopyDetection.write(w, m.Method, markdown)
		}
	}
}

// WriteMarkdown prints the report as a markdown table.
func (r *Report) WriteMarkdown(w io.Writer) error {
	h := header()
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(h, " | "), strings.Repeat("---|", len(h)))
	for _, row := range r.cells() {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	_, err := fmt.Fprintf(w, "\n%d images, %d triplets.\n", r.Images, r.Triplets)
	r.writeThresholds(w, true)
	return err
}
