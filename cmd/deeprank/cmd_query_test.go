package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/rerank"
	"github.com/deeprank/deeprank/vectorstore"
)

func TestParseFilter(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cwd, err := os.Getwd() // dir, as filepath.Abs sees it
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in      string
		want    *vectorstore.Filter
		wantErr string // a usage error containing this; "" for none
	}{
		{"", nil, ""},
		{"class=beach", &vectorstore.Filter{Classes: []string{"beach"}}, ""},
		{"class=beach,class=sea", &vectorstore.Filter{Classes: []string{"beach", "sea"}}, ""},
		{"class=a b", &vectorstore.Filter{Classes: []string{"a b"}}, ""},
		{"class=x=y", &vectorstore.Filter{Classes: []string{"x=y"}}, ""},
		{"path=/data/photos/", &vectorstore.Filter{PathPrefixes: []string{"/data/photos/"}}, ""},
		{"path=/data//photos", &vectorstore.Filter{PathPrefixes: []string{"/data/photos"}}, ""},
		{"path=/", &vectorstore.Filter{PathPrefixes: []string{"/"}}, ""},
		{"path=photos/", &vectorstore.Filter{PathPrefixes: []string{cwd + "/photos/"}}, ""},
		{"path=./photos/../pics", &vectorstore.Filter{PathPrefixes: []string{cwd + "/pics"}}, ""},
		{"path=.", &vectorstore.Filter{PathPrefixes: []string{cwd}}, ""},
		{"class=beach,path=a/,class=sea,path=/b", &vectorstore.Filter{Classes: []string{"beach", "sea"}, PathPrefixes: []string{cwd + "/a/", "/b"}}, ""},
		{"class=", nil, `class has an empty value`},
		{"class=a,path=", nil, `path has an empty value`},
		{"colour=red", nil, `unknown key "colour"; the keys are class and path`},
		{"class=a, class=b", nil, `unknown key " class"`},
		{"Class=a", nil, `unknown key "Class"`},
		{"beach", nil, `item "beach" is not key=value`},
		{"class=a,", nil, `item "" is not key=value`},
		{",", nil, `item "" is not key=value`},
		{"=a", nil, `unknown key ""`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseFilter(tc.in)
			if tc.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--filter") {
					t.Fatalf("error %v, want a usage error naming --filter and containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestQueryFilter runs query with filters over a small collection: a
// repeated key matches any of its values, and a relative path= prefix
// matches the absolute paths ingest stored.
func TestQueryFilter(t *testing.T) {
	dir := t.TempDir()
	for i, class := range []string{"beach", "sea", "fog"} {
		writePNG(t, filepath.Join(dir, "photos", class, "a.png"), color.Gray{Y: uint8(30 + 80*i)})
	}
	writePNG(t, filepath.Join(dir, "photos2", "beach", "b.png"), color.Gray{Y: 200})
	m, _ := mustModel(t, dir, 1)
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m, "--store-dir", store, filepath.Join(dir, "photos"), filepath.Join(dir, "photos2")); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	t.Chdir(dir)
	img := filepath.Join(dir, "photos", "beach", "a.png")
	cases := []struct {
		filter string
		want   []string // the paths found, relative to dir, sorted
	}{
		{"class=beach", []string{"photos/beach/a.png", "photos2/beach/b.png"}},
		{"class=beach,class=fog", []string{"photos/beach/a.png", "photos/fog/a.png", "photos2/beach/b.png"}},
		{"path=photos/", []string{"photos/beach/a.png", "photos/fog/a.png", "photos/sea/a.png"}},
		{"path=photos", []string{"photos/beach/a.png", "photos/fog/a.png", "photos/sea/a.png", "photos2/beach/b.png"}},
		{"path=photos/sea/,path=photos2/", []string{"photos/sea/a.png", "photos2/beach/b.png"}},
		{"class=beach,path=./photos2/", []string{"photos2/beach/b.png"}},
		{"class=beach,path=photos/sea/", nil},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			out, code := runCLI(t, "query", "--model", m, "--store-dir", store, "--image", img, "--top-k", "10", "--filter", tc.filter)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, out)
			}
			var got []string
			for _, line := range strings.Split(out, "\n") {
				if i := strings.Index(line, dir+"/"); i >= 0 {
					got = append(got, line[i+len(dir)+1:])
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("found %q, want %q; output:\n%s", got, tc.want, out)
			}
		})
	}
}

// TestQueryBatch: several --image flags, or --images DIR, give one JSON
// line per query; a file that cannot be read gets an error line and exit
// status 3; --max-distance leaves out the farther results.
func TestQueryBatch(t *testing.T) {
	dir := t.TempDir()
	for i, class := range []string{"beach", "sea", "fog"} {
		writePNG(t, filepath.Join(dir, "photos", class, "a.png"), color.Gray{Y: uint8(30 + 80*i)})
	}
	m, _ := mustModel(t, dir, 1)
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m, "--store-dir", store, filepath.Join(dir, "photos")); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	beach, sea := filepath.Join(dir, "photos", "beach", "a.png"), filepath.Join(dir, "photos", "sea", "a.png")
	mixed := filepath.Join(dir, "mixed")
	writePNG(t, filepath.Join(mixed, "ok.png"), color.Gray{Y: 30})
	os.WriteFile(filepath.Join(mixed, "broken.png"), []byte("not a png"), 0o644)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantHits []int // per JSON line, the number of results; -1 for an error line
	}{
		{"two images", []string{"--image", beach, "--image", sea}, exitOK, []int{3, 3}},
		{"a folder", []string{"--images", filepath.Join(dir, "photos")}, exitOK, []int{3, 3, 3}},
		{"a folder with a broken file", []string{"--images", mixed}, exitPartial, []int{-1, 3}},
		{"max distance 0", []string{"--image", beach, "--image", sea, "--max-distance", "0"}, exitOK, []int{1, 1}},
		{"an empty folder", []string{"--images", filepath.Join(dir, "empty")}, exitUsage, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"query", "--model", m, "--store-dir", store, "--collection", "images"}, tc.args...)
			out, code := runCLI(t, args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, out)
			}
			var got []int
			for _, line := range strings.Split(out, "\n") {
				if !strings.HasPrefix(line, "{") {
					continue
				}
				var q queryLine
				if err := json.Unmarshal([]byte(line), &q); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				switch {
				case q.Error != "":
					got = append(got, -1)
				case len(q.Results) == 0 || q.Results[0].Metadata.Path != q.Query && !strings.HasSuffix(q.Query, "ok.png"):
					t.Fatalf("query %s: results %+v do not start with the image itself", q.Query, q.Results)
				default:
					got = append(got, len(q.Results))
				}
			}
			if !slices.Equal(got, tc.wantHits) {
				t.Errorf("lines %v, want %v; output:\n%s", got, tc.wantHits, out)
			}
		})
	}
	// One image with --max-distance keeps the table and JSON forms.
	out, code := runCLI(t, "query", "--model", m, "--store-dir", store, "--image", beach, "--max-distance", "0", "--json")
	var hits []vectorstore.Hit
	if code != exitOK || json.Unmarshal([]byte(out), &hits) != nil || len(hits) != 1 || hits[0].Metadata.Path != beach {
		t.Errorf("one image, --max-distance 0 --json: exit %d, %s", code, out)
	}
}

// TestQueryErrors: the store opens while the image is embedded, but the
// errors keep their order: a bad image is reported before a missing
// collection or store, and a missing collection says how to make one.
func TestQueryErrors(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "photos", "beach", "a.png"), color.Gray{Y: 30})
	m, _ := mustModel(t, dir, 1)
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m, "--store-dir", store, filepath.Join(dir, "photos")); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	good, bad := filepath.Join(dir, "photos", "beach", "a.png"), filepath.Join(dir, "broken.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	cases := []struct {
		name, image, collection, store string
		wantCode                       int
		wantOut                        string
	}{
		{"found", good, "images", store, exitOK, good},
		{"no collection", good, "other", store, exitFailure, `no collection "other"`},
		{"bad image, no collection", bad, "other", store, exitFailure, "broken.png"},
		{"bad image, collection", bad, "images", store, exitFailure, "broken.png"},
		{"bad image, no store", bad, "images", filepath.Join(dir, "nowhere"), exitFailure, "broken.png"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, "query", "--model", m, "--store-dir", tc.store, "--collection", tc.collection, "--image", tc.image)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Fatalf("exit %d, want %d with %q: %s", code, tc.wantCode, tc.wantOut, out)
			}
		})
	}
}

// TestQueryReranks: query orders its nearest hits again by how their
// pictures line up with the query's (query.rerank), reading their files;
// DEEPRANK_QUERY_RERANK_TOP=0 leaves them nearest first.
func TestQueryReranks(t *testing.T) {
	dir := t.TempDir()
	// Stripes at an angle that each image's seed sets: alike to a random
	// model, told apart by lining them up.
	stripes := func(seed int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 96, 64))
		for y := range 64 {
			for x := range 96 {
				d := uint8((x*seed + y*3) % 40)
				img.SetRGBA(x, y, color.RGBA{150 + d, 90 + d, 120 - d, 255})
			}
		}
		return img
	}
	for seed := range 6 {
		fixture.WritePNG(t, filepath.Join(dir, "photos", fmt.Sprintf("s%d.png", seed)), stripes(seed))
	}
	m, _ := mustModel(t, dir, 1)
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m, "--store-dir", store, filepath.Join(dir, "photos")); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	query := filepath.Join(dir, "query.png")
	// The mirror image of a crop of 70% of each side of s4.png, which the
	// vectors of a random model miss.
	mirrored := image.NewRGBA(image.Rect(0, 0, 67, 45))
	for y := range 45 {
		for x := range 67 {
			mirrored.Set(66-x, y, stripes(4).At(20+x, 10+y))
		}
	}
	fixture.WritePNG(t, query, mirrored)
	loaded, err := model.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := embedder.New(loaded, nil)
	if err != nil {
		t.Fatal(err)
	}
	picture := func(path string) *rerank.Picture {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := emb.Picture(data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	q := picture(query).NewQuery()
	cases := []struct {
		name string
		top  string
	}{{"off", "0"}, {"on", "6"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DEEPRANK_QUERY_RERANK_TOP", tc.top)
			t.Setenv("DEEPRANK_QUERY_RERANK_WEIGHT", "100") // the line-up outweighs any distance
			t.Setenv("DEEPRANK_QUERY_RERANK_FLOOR", "-1")
			t.Setenv("DEEPRANK_QUERY_RERANK_CORNERS", "0") // the line-up alone decides
			out, code := runCLI(t, "query", "--model", m, "--store-dir", store, "--image", query, "--json")
			var hits []vectorstore.Hit
			if code != exitOK || json.Unmarshal([]byte(out), &hits) != nil || len(hits) != 6 {
				t.Fatalf("exit %d, %s", code, out)
			}
			var matches []float64
			var nearest []float32
			for _, h := range hits {
				matches = append(matches, q.NCC(picture(h.Metadata.Path).Thumb()))
				nearest = append(nearest, h.Distance)
			}
			lineUp := slices.IsSortedFunc(matches, func(a, b float64) int { return cmp.Compare(b, a) })
			if tc.top == "0" {
				if !slices.IsSorted(nearest) || lineUp {
					t.Fatalf("distances %v, line-ups %v: want nearest first, not in line-up order (else the test cannot tell)", nearest, matches)
				}
				return
			}
			if !lineUp || filepath.Base(hits[0].Metadata.Path) != "s4.png" {
				t.Errorf("line-ups %v, first %s: want s4.png, the image the query is cut from, and the rest in line-up order", matches, hits[0].Metadata.Path)
			}
		})
	}
}

// TestQueryVariants: with query.variants a query searches with its mirror image
// too, where the model stores mirror images, and finds the image a
// mirrored crop was cut from nearer than its own vector alone does;
// without it (the default), with its own alone.
func TestQueryVariants(t *testing.T) {
	dir := t.TempDir()
	// Waves of each seed's own frequencies, brighter to the right so that
	// a mirror image differs.
	waves := func(seed int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 96, 64))
		for y := range 64 {
			for x := range 96 {
				fx, fy := float64(x)*float64(seed+2)/40, float64(y)*float64(7-seed)/30
				img.SetRGBA(x, y, color.RGBA{uint8(100 + 60*math.Sin(fx) + float64(x)), uint8(120 + 80*math.Cos(fy+fx/3)), uint8(128 + 100*math.Sin(fx*fy/5)), 255})
			}
		}
		return img
	}
	for seed := range 5 {
		fixture.WritePNG(t, filepath.Join(dir, "photos", fmt.Sprintf("r%d.png", seed)), waves(seed))
	}
	plain, _ := mustModel(t, dir, 1)
	loaded, err := model.Load(plain)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Spec.Variants = &model.Variants{Mirror: true, Crops: []model.CropGrid{{Grid: 1, Side: 0.6}}}
	m := filepath.Join(dir, "variants.drk")
	if _, err := loaded.Save(m); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m, "--store-dir", store, filepath.Join(dir, "photos")); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	// The mirror image of r3.png's centre crop, which its stored centre
	// crop holds unmirrored.
	src := waves(3)
	query := image.NewRGBA(image.Rect(0, 0, 58, 38))
	for y := range 38 {
		for x := range 58 {
			query.Set(57-x, y, src.At(19+x, 13+y))
		}
	}
	path := filepath.Join(dir, "query.png")
	fixture.WritePNG(t, path, query)
	t.Setenv("DEEPRANK_QUERY_RERANK_TOP", "0") // distances as searched
	distances := func(variants string) map[string]float32 {
		t.Setenv("DEEPRANK_QUERY_VARIANTS", variants)
		out, code := runCLI(t, "query", "--model", m, "--store-dir", store, "--image", path, "--json")
		var hits []vectorstore.Hit
		if code != exitOK || json.Unmarshal([]byte(out), &hits) != nil || len(hits) != 5 {
			t.Fatalf("variants %s: exit %d, %s", variants, code, out)
		}
		if name := filepath.Base(hits[0].Metadata.Path); variants == "true" && name != "r3.png" {
			t.Errorf("variants on: first %s, want r3.png", name)
		}
		d := map[string]float32{}
		for _, h := range hits {
			d[filepath.Base(h.Metadata.Path)] = h.Distance
		}
		return d
	}
	off, on := distances("false"), distances("true")
	for name, d := range on {
		if d > off[name] {
			t.Errorf("%s: %g with variants, %g without: a variant can only bring an image nearer", name, d, off[name])
		}
	}
	if on["r3.png"] >= off["r3.png"]/2 {
		t.Errorf("r3.png: %g with variants, %g without: want the mirror image far nearer", on["r3.png"], off["r3.png"])
	}
}
