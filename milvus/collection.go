package milvus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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
	return vectorstore.Spec{Dim: c.p.dim, Metric: c.p.desc.Metric, ModelVersion: c.p.desc.ModelVersion}
}

func (c *collection) Info(ctx context.Context) (vectorstore.Info, error) {
	n, err := c.Count(ctx)
	if err != nil {
		return vectorstore.Info{}, err
	}
	return vectorstore.Info{Name: c.p.desc.Name, Spec: c.spec(), Count: n}, nil
}

func (c *collection) checkModel(op, version string, dim int) error {
	if version != c.p.desc.ModelVersion || dim != c.p.dim {
		return fmt.Errorf("%s %q: %w (collection: model %s, %d dimensions; given: model %s, %d dimensions)",
			op, c.p.desc.Name, vectorstore.ErrModelMismatch, c.p.desc.ModelVersion, c.p.dim, version, dim)
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
		if err := c.checkModel("upsert into", version, len(it.Vector)); err != nil {
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
		for n < len(items) && (n == 0 || size+itemBytes(items[n]) <= c.s.cfg.BatchBytes) {
			size += itemBytes(items[n])
			n++
		}
		if err := c.upsert(ctx, version, items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// itemBytes estimates an item's share of a request.
func itemBytes(it vectorstore.Item) int { return 4*len(it.Vector) + 2*len(it.Metadata.Path) + 400 }

func (c *collection) upsert(ctx context.Context, version string, items []vectorstore.Item) error {
	ids := make([]string, len(items))
	paths := make([]string, len(items))
	versions := make([]string, len(items))
	metas := make([][]byte, len(items))
	vecs := make([][]float32, len(items))
	for i, it := range items {
		ids[i], paths[i], versions[i], vecs[i] = it.ID, it.Metadata.Path, version, it.Vector
		metas[i], _ = json.Marshal(it.Metadata)
	}
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	_, err := c.s.cli.Upsert(cctx, c.p.phys, "",
		entity.NewColumnVarChar(fieldID, ids), entity.NewColumnVarChar(fieldPath, paths),
		entity.NewColumnVarChar(fieldVersion, versions), entity.NewColumnJSONBytes(fieldMetadata, metas),
		entity.NewColumnFloatVector(fieldVector, c.p.dim, vecs))
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
	if err := c.s.cli.DeleteByPks(cctx, c.p.phys, "", entity.NewColumnVarChar(fieldID, ids)); err != nil {
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
	// ids are hex, so quoting them needs no escapes.
	found, err := c.query(ctx, fmt.Sprintf(`%s in ["%s"]`, fieldID, strings.Join(ids, `","`)))
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

// query returns the items matching expr, with their vectors.
func (c *collection) query(ctx context.Context, expr string) ([]vectorstore.Item, error) {
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	rs, err := c.s.cli.Query(cctx, c.p.phys, nil, expr, itemFields, c.queryOpts()...)
	if err != nil {
		return nil, err
	}
	ids, ok1 := rs.GetColumn(fieldID).(*entity.ColumnVarChar)
	metas, ok2 := rs.GetColumn(fieldMetadata).(*entity.ColumnJSONBytes)
	vecs, ok3 := rs.GetColumn(fieldVector).(*entity.ColumnFloatVector)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("query %s: the answer lacks the fields %v", c.p.phys, itemFields)
	}
	out := make([]vectorstore.Item, ids.Len())
	for i, id := range ids.Data() {
		out[i] = vectorstore.Item{ID: id, Vector: vecs.Data()[i]}
		if err := json.Unmarshal(metas.Data()[i], &out[i].Metadata); err != nil {
			return nil, fmt.Errorf("item %s: metadata: %w", id, err)
		}
	}
	return out, nil
}

func (c *collection) Count(ctx context.Context) (int, error) {
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	rs, err := c.s.cli.Query(cctx, c.p.phys, nil, "", []string{"count(*)"}, c.queryOpts()...)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", c.p.desc.Name, err)
	}
	col, ok := rs.GetColumn("count(*)").(*entity.ColumnInt64)
	if !ok || col.Len() != 1 {
		return 0, fmt.Errorf("count %q: the answer has no count", c.p.desc.Name)
	}
	return int(col.Data()[0]), nil
}

// scanBucket is the number of items a Scan fetches per query, about.
const scanBucket = 2000

// Scan fetches items by ranges of their hex id: 16^d prefixes, d chosen so
// that each query returns about scanBucket items, whatever the collection's
// size (Milvus caps a query's answer, and a message's size; it also refuses
// an empty expression without a limit, hence at least 16 prefixes).
func (c *collection) Scan(ctx context.Context, fn func(vectorstore.Item) error) error {
	n, err := c.Count(ctx)
	if err != nil {
		return err
	}
	digits := 1
	for buckets := 16; n/buckets > scanBucket && digits < 4; buckets *= 16 {
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

func (c *collection) Search(ctx context.Context, version string, q []float32, k int, filter *vectorstore.Filter) ([]vectorstore.Hit, error) {
	if err := c.checkModel("search", version, len(q)); err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("search %q: %w: k = %d", c.p.desc.Name, vectorstore.ErrInvalid, k)
	}
	k = min(k, maxTopK)
	sp, err := c.s.searchParam(k)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", c.p.desc.Name, err)
	}
	cctx, cancel := c.s.call(ctx)
	defer cancel()
	res, err := c.s.cli.Search(cctx, c.p.phys, nil, filterExpr(filter), []string{fieldMetadata},
		[]entity.Vector{entity.FloatVector(q)}, fieldVector, metricType(c.p.desc.Metric), k, sp, c.queryOpts()...)
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
	hits := make([]vectorstore.Hit, r.ResultCount)
	for i := range hits {
		hits[i] = vectorstore.Hit{ID: ids.Data()[i], Distance: distance(c.p.desc.Metric, r.Scores[i])}
		if err := json.Unmarshal(metas.Data()[i], &hits[i].Metadata); err != nil {
			return nil, fmt.Errorf("search %q: item %s: metadata: %w", c.p.desc.Name, hits[i].ID, err)
		}
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
