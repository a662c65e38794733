package milvus

import (
	"context"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
)

func TestFilterExpr(t *testing.T) {
	cases := []struct {
		name   string
		filter *vectorstore.Filter
		want   string
	}{
		{"none", nil, ""},
		{"empty", &vectorstore.Filter{}, ""},
		{"class", &vectorstore.Filter{Classes: []string{"beach"}}, `metadata["class"] in ["beach"]`},
		{"prefix", &vectorstore.Filter{PathPrefixes: []string{"/photos/"}}, `((path >= "/photos/" && path < "/photos0"))`},
		{"both", &vectorstore.Filter{Classes: []string{"c1"}, PathPrefixes: []string{"a"}}, `metadata["class"] in ["c1"] && ((path >= "a" && path < "b"))`},
		{"any of", &vectorstore.Filter{Classes: []string{"c1", "c2"}, PathPrefixes: []string{"a", "b"}}, `metadata["class"] in ["c1", "c2"] && ((path >= "a" && path < "b") || (path >= "b" && path < "c"))`},
		// Quotes cannot end the string early; like's wildcards mean
		// nothing in a range.
		{"quote", &vectorstore.Filter{Classes: []string{`x" || true || "`}}, `metadata["class"] in ["x\" || true || \""]`},
		{"wildcards", &vectorstore.Filter{PathPrefixes: []string{`/a_b%`}}, `((path >= "/a_b%" && path < "/a_b&"))`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := filterExpr(tc.filter); got != tc.want {
				t.Errorf("filterExpr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct {
		prefix, want string
		ok           bool
	}{
		{"a", "b", true},
		{"/photos/", "/photos0", true},
		{"caf\u00e9", "caf\u00ea", true},
		{"x\U0010FFFF", "y", true},
		{"\uD7FF", "\uE000", true},
		{"\U0010FFFF", "", false},
	}
	for _, tc := range cases {
		got, ok := prefixEnd(tc.prefix)
		if got != tc.want || ok != tc.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tc.prefix, got, ok, tc.want, tc.ok)
		}
		// Every string with the prefix sorts below the end.
		if ok && !(tc.prefix+"\U0010FFFF\U0010FFFF" < got) {
			t.Errorf("prefixEnd(%q) = %q is not above the prefix's strings", tc.prefix, got)
		}
	}
}

func TestDistance(t *testing.T) {
	cases := []struct {
		metric vectorstore.Metric
		score  float32
		want   float64
	}{
		{vectorstore.MetricL2, 4, 2},     // Milvus gives the squared distance
		{vectorstore.MetricL2, -1e-7, 0}, // rounding below zero
		{vectorstore.MetricCosine, 0.25, 0.75},
		{vectorstore.MetricCosine, 1.0000001, 0},
		{vectorstore.MetricIP, 0.5, -0.5},
	}
	for _, tc := range cases {
		if got := distance(tc.metric, tc.score); math.Abs(float64(got)-tc.want) > 1e-6 {
			t.Errorf("distance(%s, %g) = %g, want %g", tc.metric, tc.score, got, tc.want)
		}
	}
}

func TestParseDescription(t *testing.T) {
	cases := []struct {
		text string
		ok   bool
	}{
		{`{"deeprank":1,"name":"images","model_version":"abc","metric":"L2"}`, true},
		{`{"deeprank":2,"name":"images","model_version":"abc","metric":"L2"}`, false}, // format 2 is for variants
		{`{"deeprank":2,"name":"images","model_version":"abc","metric":"L2","variants":7}`, true},
		{`{"deeprank":3,"name":"images","model_version":"abc","metric":"L2","learned":64}`, true},
		{`{"deeprank":3,"name":"images","model_version":"abc","metric":"L2","variants":7,"learned":64}`, true},
		{`{"deeprank":2,"name":"images","model_version":"abc","metric":"L2","variants":7,"learned":64}`, false},
		{`{"deeprank":1,"name":"images","model_version":"abc","metric":"L2","learned":64}`, false},
		{`{"deeprank":3,"name":"images","model_version":"abc","metric":"L2"}`, false},
		{`{"deeprank":3,"name":"images","model_version":"abc","metric":"L2","learned":-1}`, false},
		{`{"deeprank":4,"name":"images","model_version":"abc","metric":"L2","learned":64}`, false}, // a future format
		{`{"deeprank":1,"name":"bad name","model_version":"abc","metric":"L2"}`, false},
		{`{"deeprank":1,"name":"images","model_version":"","metric":"L2"}`, false},
		{`{"deeprank":1,"name":"images","model_version":"abc","metric":"HAMMING"}`, false},
		{`a collection someone else made`, false},
		{``, false},
	}
	for _, tc := range cases {
		d, ok := parseDescription(tc.text)
		if ok != tc.ok || (ok && d.Name != "images") {
			t.Errorf("parseDescription(%q) = %+v, %v; want ok %v", tc.text, d, ok, tc.ok)
		}
	}
}

// FuzzParseDescription builds descriptions from fuzzed fields and checks
// parseDescription against the rules written out here (format 1, or 3
// with a positive learned part; a name of a letter or _ then letters,
// digits or _, at most 255; a model version; a metric of L2, COSINE or
// IP), not against the code's own checks; accepted fields come back as
// they went in.
func FuzzParseDescription(f *testing.F) {
	f.Add(1, "images", "abc", "COSINE", 0)
	f.Add(2, "images", "abc", "L2", 0)
	f.Add(3, "images", "abc", "L2", 64)
	f.Add(3, "images", "abc", "L2", 0)
	f.Add(1, "9lives", "abc", "IP", 0)
	f.Add(1, "images", "", "IP", 0)
	f.Add(1, "images", "abc", "cosine", 0)
	f.Add(0, "", "", "", -3)
	name := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	f.Fuzz(func(t *testing.T, format int, coll, version, metric string, learned int) {
		if !utf8.ValidString(coll + version + metric) {
			t.Skip("JSON would change the text")
		}
		text, err := json.Marshal(map[string]any{"deeprank": format, "name": coll, "model_version": version, "metric": metric, "learned": learned})
		if err != nil {
			t.Skip(err)
		}
		want := (format == 1 && learned == 0 || format == 3 && learned > 0) &&
			name.MatchString(coll) && version != "" && (metric == "L2" || metric == "COSINE" || metric == "IP")
		d, ok := parseDescription(string(text))
		if ok != want {
			t.Fatalf("parseDescription(%s) ok = %v, want %v", text, ok, want)
		}
		if ok && (d.Name != coll || d.ModelVersion != version || string(d.Metric) != metric || d.Learned != learned) {
			t.Fatalf("parseDescription(%s) = %+v", text, d)
		}
	})
}

// upsertClient records the ids of every Upsert request. Calls it does
// not override panic on the nil Client.
type upsertClient struct {
	client.Client
	requests [][]string
}

func (c *upsertClient) Upsert(_ context.Context, _, _ string, columns ...entity.Column) (entity.Column, error) {
	c.requests = append(c.requests, columns[0].(*entity.ColumnVarChar).Data())
	return nil, nil
}

// TestBatching upserts items of several sizes through a client that records
// each request: requests stay within BatchBytes (by itemBytes) unless one
// item alone is larger, every item goes once, in order, and a batch larger
// than BatchBytes is split.
func TestBatching(t *testing.T) {
	// 128 dimensions and a short path are about 1 KB an item.
	it := vectorstore.Item{Vector: make([]float32, 128), Metadata: vectorstore.Metadata{Path: "/p/x.jpg"}}
	if b := itemBytes(it, 1); b < 4*128 || b > 2048 {
		t.Errorf("itemBytes = %d, want about 1 KB", b)
	}
	const dim, limit = 128, 3000
	items := storetest.Items(12, dim, 1)
	for i := range items {
		items[i].Metadata.Path = "/p/" + strings.Repeat("x", 40*i)
	}
	items[7].Metadata.Path = "/p/" + strings.Repeat("y", limit) // alone over the limit
	size := map[string]int{}
	for _, it := range items {
		size[it.ID] = itemBytes(it, 1)
	}
	cli := &upsertClient{}
	cfg := milvusconfig.Default()
	cfg.BatchBytes = limit
	c := &collection{s: &Store{cfg: cfg, cli: cli, written: map[string]bool{}},
		p: physical{phys: "images__x", dim: dim, desc: description{Deeprank: descriptionFormat, Name: "images", ModelVersion: "m", Metric: vectorstore.MetricL2}}}
	if err := c.Upsert(t.Context(), "m", items); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, req := range cli.requests {
		bytes := 0
		for _, id := range req {
			bytes += size[id]
		}
		if bytes > limit && len(req) > 1 {
			t.Errorf("a request of %d items and %d bytes, over BatchBytes %d", len(req), bytes, limit)
		}
		all = append(all, req...)
	}
	var want []string
	for _, it := range items {
		want = append(want, it.ID)
	}
	if !slices.Equal(all, want) {
		t.Errorf("requests carried %v, want every item once in order %v", all, want)
	}
	if len(cli.requests) < 5 {
		t.Errorf("%d requests for %d items of about 1 KB under a %d-byte limit: the batch was not split", len(cli.requests), len(items), limit)
	}
}

func TestOpenUnreachable(t *testing.T) {
	cfg := milvusconfig.Default()
	cfg.Address = "127.0.0.1:9" // discard: nothing answers gRPC there
	cfg.ConnectTimeout = 500 * time.Millisecond
	start := time.Now()
	_, err := Open(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), ErrUnreachable.Error()) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %v; the connect timeout is 500ms", took)
	}
}

// TestRowKeys: an item's rows are keyed by its id and id.N, and only keys
// of the collection's vectors split back.
func TestRowKeys(t *testing.T) {
	id := storetest.ID(1)
	for j := range 3 {
		got, gj, ok := splitKey(rowKey(id, j), 3)
		if !ok || got != id || gj != j {
			t.Errorf("splitKey(rowKey(id, %d)) = %s, %d, %v", j, got[:8], gj, ok)
		}
	}
	if rowKey(id, 0) != id {
		t.Errorf("the first row's key is %q, want the id itself", rowKey(id, 0))
	}
	if n := len(rowKey(id, maxVariants-1)); n > keyLen(maxVariants) {
		t.Errorf("a key of %d bytes, over the schema's %d", n, keyLen(maxVariants))
	}
	for _, key := range []string{id + ".3", id + ".0", id + ".x", id + ".-1"} {
		if _, _, ok := splitKey(key, 3); ok {
			t.Errorf("splitKey(%q, 3) accepted", key[60:])
		}
	}
}

// TestDescriptionFormats: format 2 goes with several vectors an item,
// format 1 with one; any other pairing is not deeprank's.
func TestDescriptionFormats(t *testing.T) {
	for _, tc := range []struct {
		format, variants int
		ok               bool
	}{
		{1, 0, true}, {2, 3, true}, {1, 3, false}, {2, 0, false}, {3, 3, false},
	} {
		js, _ := json.Marshal(description{Deeprank: tc.format, Name: "images", ModelVersion: "m", Metric: vectorstore.MetricL2, Variants: tc.variants})
		if _, ok := parseDescription(string(js)); ok != tc.ok {
			t.Errorf("format %d, %d variants: ok %v, want %v", tc.format, tc.variants, ok, tc.ok)
		}
	}
}
