package milvus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"

	"github.com/deeprank/deeprank/vectorstore"
)

// collection is one physical collection.
type collection struct {
	s *Store
	p physical
}

func (c *collection) spec() vectorstore.Spec {
	return vectorstore.Spec{Dim: c.p.dim, Metric: c.p.desc.Metric, ModelVersion: c.p.desc.ModelVersion,
		Variants: c.p.desc.Variants, Learned: c.p.desc.Learned}
}

// per is the number of vectors, and of rows, an item has.
func (c *collection) per() int { return c.spec().PerItem() }

// rowKey is the primary key of the row of item id's vector j: the id
// itself for the first, so that Has finds an item by its first row.
func rowKey(id string, j int) string {
	if j == 0 {
		return id
	}
	return id + "." + strconv.Itoa(j)
}

// rowKeys lists the keys of every row of the items ids.
func (c *collection) rowKeys(ids []string) []string {
	out := make([]string, 0, len(ids)*c.per())
	for _, id := range ids {
		for j := range c.per() {
			out = append(out, rowKey(id, j))
		}
	}
	return out
}

func (c *collection) Info(ctx context.Context) (vectorstore.Info, error) {
	n, err := c.Count(ctx)
	if err != nil {
		return vectorstore.Info{}, err
	}
	return vectorstore.Info{Name: c.p.desc.Name, Spec: c.spec(), Count: n}, nil
}

// checkModel refuses n values of model version where the collection wants
// want values (an item's, or a query's) of its model.
func (c *collection) checkModel(op, version string, n, want int) error {
	if version != c.p.desc.ModelVersion || n != want {
		return fmt.Errorf("%s %q: %w (collection: model %s, %d values, of %d dimensions and %d vectors an item; given: model %s, %d values)",
			op, c.p.desc.Name, vectorstore.ErrModelMismatch, c.p.desc.ModelVersion, want, c.p.dim, c.per(), version, n)
	}
	return nil
}

func (c *collection) queryOpts() []client.SearchQueryOptionFunc {
	return []client.SearchQueryOptionFunc{client.WithSearchQueryConsistencyLevel(c.s.consistency())}
}

// Upsert writes items in requests of at most Config.BatchBytes. Milvus
// acknowledges a request once it is in its write-ahead log.
func (c *collection) Upsert(ctx context.Context, version string, items []vectorstore.Item) error {
	for _, it := range items {
		if err := c.checkModel("upsert into", version, len(it.Vector), c.spec().ItemLen()); err != nil {
			return err
		}
		if !vectorstore.ValidID(it.ID) {
			return fmt.Errorf("upsert into %q: %w: id %q is not a hex SHA-256", c.p.desc.Name, vectorstore.ErrInvalid, it.ID)
		}
		if len(it.Metadata.Path) > maxPathLen {
			return fmt.Errorf("upsert into %q: %w: path %.60q... is over %d bytes", c.p.desc.Name, vectorstore.ErrInvalid, it.Metadata.Path, maxPathLen)
		}
	}
	for len(items) > 0 {
		n, size := 0, 0
		for n < len(items) && (n == 0 || size+itemBytes(items[n], c.per()) <= c.s.cfg.BatchBytes) {
			size += itemBytes(items[n], c.per())
			n++
		}
		if err := c.upsert(ctx, version, items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// itemBytes estimates an item's share of a request: its vectors, and its
// path and the rest on each of its per rows.
func itemBytes(it vectorstore.Item, per int) int {
	return 4*len(it.Vector) + per*(2*len(it.Metadata.Path)+400)
}

// upsert writes items in one request: a row for each of their vectors,
// so that an item's rows land together.
func (c *collection) upsert(ctx context.Context, version string, items []vectorstore.Item) error {
	per, dim := c.per(), c.p.dim
	rows := len(items) * per
	keys := make([]string, 0, rows)
	paths := make([]string, 0, rows)
	versions := make([]string, 0, rows)
	metas := make([][]byte, 0, rows)
	vecs := make([][]float32, 0, rows)
	variants := make([]int64, 0, rows)
	for _, it := range items {
		meta, _ := json.Marshal(it.Metadata)
		for j := range per {
			keys, paths, versions = append(keys, rowKey(it.ID, j)), append(paths, it.Metadata.Path), append(versions, version)
			metas, vecs = append(metas, meta), append(vecs, it.Vector[j*dim:(j+1)*dim])
			variants = append(variants, int64(j))
		}
	}
	cols := []entity.Column{
		entity.NewColumnVarChar(fieldID, keys), entity.NewColumnVarChar(fieldPath, paths),
		entity.NewColumnVarChar(fieldVersion, versions), entity.NewColumnJSONBytes(fieldMetadata, metas),
		entity.NewColumnFloatVector(fieldVector, dim, vecs),
	}
	if per > 1 {
		cols = append(cols, entity.NewColumnInt64(fieldVariant, variants))
	}
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	_, err := c.s.cli.Upsert(cctx, c.p.phys, "", cols...)
	if err != nil {
		return fmt.Errorf("upsert into %q: %w", c.p.desc.Name, err)
	}
	c.s.mu.Lock()
	c.s.written[c.p.phys] = true
	c.s.mu.Unlock()
	return nil
}

func (c *collection) Delete(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if !vectorstore.ValidID(id) {
			return fmt.Errorf("delete from %q: %w: id %q is not a hex SHA-256", c.p.desc.Name, vectorstore.ErrInvalid, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	if err := c.s.cli.DeleteByPks(cctx, c.p.phys, "", entity.NewColumnVarChar(fieldID, c.rowKeys(ids))); err != nil {
		return fmt.Errorf("delete from %q: %w", c.p.desc.Name, err)
	}
	return nil
}

var itemFields = []string{fieldID, fieldMetadata, fieldVector}

func (c *collection) Get(ctx context.Context, ids []string) ([]vectorstore.Item, error) {
	for _, id := range ids {
		if !vectorstore.ValidID(id) {
			return nil, fmt.Errorf("get from %q: %w: id %q is not a hex SHA-256", c.p.desc.Name, vectorstore.ErrInvalid, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// Keys are hex and digits, so quoting them needs no escapes.
	found, err := c.query(ctx, fmt.Sprintf(`%s in ["%s"]`, fieldID, strings.Join(c.rowKeys(ids), `","`)))
	if err != nil {
		return nil, fmt.Errorf("get from %q: %w", c.p.desc.Name, err)
	}
	byID := make(map[string]vectorstore.Item, len(found))
	for _, it := range found {
		byID[it.ID] = it
	}
	out := make([]vectorstore.Item, 0, len(found))
	for _, id := range ids {
		if it, ok := byID[id]; ok {
			out = append(out, it)
			delete(byID, id) // an id asked twice is returned once
		}
	}
	return out, nil
}

func (c *collection) Has(ctx context.Context, ids []string) ([]bool, error) {
	out := make([]bool, len(ids))
	for _, id := range ids {
		if !vectorstore.ValidID(id) {
			return nil, fmt.Errorf("look up in %q: %w: id %q is not a hex SHA-256", c.p.desc.Name, vectorstore.ErrInvalid, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	rs, err := c.s.cli.Query(cctx, c.p.phys, nil, fmt.Sprintf(`%s in ["%s"]`, fieldID, strings.Join(ids, `","`)), []string{fieldID}, c.queryOpts()...)
	if err != nil {
		return nil, fmt.Errorf("look up in %q: %w", c.p.desc.Name, err)
	}
	col, ok := rs.GetColumn(fieldID).(*entity.ColumnVarChar)
	if !ok {
		return nil, fmt.Errorf("look up in %q: the answer lacks the field %s", c.p.desc.Name, fieldID)
	}
	found := map[string]bool{}
	for _, id := range col.Data() {
		found[id] = true
	}
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// query returns the items whose rows match expr, with their vectors; an
// item of several vectors must have all its rows among them.
func (c *collection) query(ctx context.Context, expr string) ([]vectorstore.Item, error) {
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	rs, err := c.s.cli.Query(cctx, c.p.phys, nil, expr, itemFields, c.queryOpts()...)
	if err != nil {
		return nil, err
	}
	keys, ok1 := rs.GetColumn(fieldID).(*entity.ColumnVarChar)
	metas, ok2 := rs.GetColumn(fieldMetadata).(*entity.ColumnJSONBytes)
	vecs, ok3 := rs.GetColumn(fieldVector).(*entity.ColumnFloatVector)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("query %s: the answer lacks the fields %v", c.p.phys, itemFields)
	}
	per, dim := c.per(), c.p.dim
	var out []vectorstore.Item
	at := map[string]int{} // an item's index in out
	have := map[string]int{}
	for i, key := range keys.Data() {
		id, j, ok := splitKey(key, per)
		if !ok {
			return nil, fmt.Errorf("row %q: not a key of this collection", key)
		}
		k, seen := at[id]
		if !seen {
			k, at[id] = len(out), len(out)
			out = append(out, vectorstore.Item{ID: id, Vector: make([]float32, per*dim)})
			if err := json.Unmarshal(metas.Data()[i], &out[k].Metadata); err != nil {
				return nil, fmt.Errorf("item %s: metadata: %w", id, err)
			}
		}
		copy(out[k].Vector[j*dim:(j+1)*dim], vecs.Data()[i])
		have[id]++
	}
	for _, it := range out {
		if have[it.ID] != per {
			return nil, fmt.Errorf("item %s has %d of its %d vectors: write it again (deeprank ingest)", it.ID, have[it.ID], per)
		}
	}
	return out, nil
}

// splitKey is rowKey's inverse for a collection of per vectors an item.
func splitKey(key string, per int) (id string, j int, ok bool) {
	id, num, found := strings.Cut(key, ".")
	if !found {
		return id, 0, true
	}
	j, err := strconv.Atoi(num)
	return id, j, err == nil && j >= 1 && j < per
}

func (c *collection) Count(ctx context.Context) (int, error) {
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	expr := "" // one row an item, or a row for each of its vectors:
	if c.per() > 1 {
		expr = fieldVariant + " == 0"
	}
	rs, err := c.s.cli.Query(cctx, c.p.phys, nil, expr, []string{"count(*)"}, c.queryOpts()...)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", c.p.desc.Name, err)
	}
	col, ok := rs.GetColumn("count(*)").(*entity.ColumnInt64)
	if !ok || col.Len() != 1 {
		return 0, fmt.Errorf("count %q: the answer has no count", c.p.desc.Name)
	}
	return int(col.Data()[0]), nil
}

// scanBucket is the number of rows a Scan fetches per query, about.
const scanBucket = 2000

// Scan fetches items by ranges of their hex id: 16^d prefixes, d chosen so
// that each query returns about scanBucket rows, whatever the collection's
// size (Milvus caps a query's answer, and a message's size; it also refuses
// an empty expression without a limit, hence at least 16 prefixes).
func (c *collection) Scan(ctx context.Context, fn func(vectorstore.Item) error) error {
	n, err := c.Count(ctx)
	if err != nil {
		return err
	}
	digits := 1
	for buckets := 16; n*c.per()/buckets > scanBucket && digits < 4; buckets *= 16 {
		digits++
	}
	for b := range 1 << (4 * digits) {
		items, err := c.query(ctx, fmt.Sprintf(`%s like "%0*x%%"`, fieldID, digits, b))
		if err != nil {
			return fmt.Errorf("scan %q: %w", c.p.desc.Name, err)
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxTopK is Milvus's largest k.
const maxTopK = 16384

// Search asks for the k nearest rows, or for an item of several vectors
// as many more as it has (k x vectors an item), and keeps each item's
// nearest row. Milvus answers at most maxTopK rows, so k is at most
// maxTopK / vectors an item (2,340 items at 7).
func (c *collection) Search(ctx context.Context, version string, q []float32, k int, filter *vectorstore.Filter) ([]vectorstore.Hit, error) {
	if err := c.checkModel("search", version, len(q), c.p.dim); err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("search %q: %w: k = %d", c.p.desc.Name, vectorstore.ErrInvalid, k)
	}
	per := c.per()
	k = min(k, maxTopK/per)
	rows := k * per
	sp, err := c.s.searchParam(rows)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", c.p.desc.Name, err)
	}
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	res, err := c.s.cli.Search(cctx, c.p.phys, nil, filterExpr(filter), []string{fieldMetadata},
		[]entity.Vector{entity.FloatVector(q)}, fieldVector, metricType(c.p.desc.Metric), rows, sp, c.queryOpts()...)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", c.p.desc.Name, err)
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("search %q: %d result sets for one query", c.p.desc.Name, len(res))
	}
	r := res[0]
	ids, ok1 := r.IDs.(*entity.ColumnVarChar)
	metas, ok2 := r.Fields.GetColumn(fieldMetadata).(*entity.ColumnJSONBytes)
	if r.ResultCount == 0 {
		return nil, nil
	}
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("search %q: the answer lacks ids or metadata", c.p.desc.Name)
	}
	hits := make([]vectorstore.Hit, 0, min(k, r.ResultCount))
	seen := map[string]bool{}
	for i := 0; i < r.ResultCount && len(hits) < k; i++ { // rows come nearest first
		id, _, ok := splitKey(ids.Data()[i], per)
		if !ok {
			return nil, fmt.Errorf("search %q: row %q: not a key of this collection", c.p.desc.Name, ids.Data()[i])
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		h := vectorstore.Hit{ID: id, Distance: distance(c.p.desc.Metric, r.Scores[i])}
		if err := json.Unmarshal(metas.Data()[i], &h.Metadata); err != nil {
			return nil, fmt.Errorf("search %q: item %s: metadata: %w", c.p.desc.Name, id, err)
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// distance turns Milvus's score into the contract's distance: Milvus
// gives the squared Euclidean distance for L2, and similarities (higher is
// nearer) for COSINE and IP.
func distance(metric vectorstore.Metric, score float32) float32 {
	switch metric {
	case vectorstore.MetricCosine:
		return max(0, 1-score) // rounding can put a vector's similarity to itself above 1
	case vectorstore.MetricIP:
		return -score
	}
	return float32(math.Sqrt(math.Max(float64(score), 0)))
}

// filterExpr is the boolean expression of a filter: the class in the JSON
// metadata, the path by prefix. Values are quoted as JSON strings, which
// Milvus's expression grammar reads alike. The prefix is a range of paths,
// not a like pattern: Milvus 2.3's like has no escapes, so a path holding %
// or _ could not be matched literally.
func filterExpr(f *vectorstore.Filter) string {
	if f == nil {
		return ""
	}
	var terms []string
	if len(f.Classes) > 0 {
		quoted := make([]string, len(f.Classes))
		for i, c := range f.Classes {
			quoted[i] = quote(c)
		}
		terms = append(terms, fmt.Sprintf(`%s["class"] in [%s]`, fieldMetadata, strings.Join(quoted, ", ")))
	}
	if len(f.PathPrefixes) > 0 {
		var any []string
		for _, p := range f.PathPrefixes {
			r := fmt.Sprintf(`%s >= %s`, fieldPath, quote(p))
			if upper, ok := prefixEnd(p); ok {
				r = fmt.Sprintf(`(%s && %s < %s)`, r, fieldPath, quote(upper))
			}
			any = append(any, r)
		}
		terms = append(terms, "("+strings.Join(any, " || ")+")")
	}
	return strings.Join(terms, " && ")
}

// prefixEnd is the least string above every string starting with p: p
// with its last rune incremented (UTF-8 orders bytes as code points). ok is
// false when no such string exists (p is all U+10FFFF).
func prefixEnd(p string) (string, bool) {
	runes := []rune(p)
	for i := len(runes) - 1; i >= 0; i-- {
		r := runes[i] + 1
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not runes
			r = 0xE000
		}
		if r <= unicode.MaxRune {
			runes[i] = r
			return string(runes[:i+1]), true
		}
	}
	return "", false
}

// quote makes s a string literal: JSON's escapes, without the HTML ones.
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
