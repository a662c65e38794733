package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/internal/fixture"
	defaultmodel "github.com/deeprank/deeprank/models/default"
)

// TestServe runs `deeprank serve --store milvus` over a collection of
// sample photos ingested into Milvus: the collections endpoints describe
// it, a search by uploading a photo finds that photo first at distance 0,
// a search by its id too, the photo and its thumbnail are served, and an
// upload is found by a search and then deleted, file and all.
func TestServe(t *testing.T) {
	srv := startMilvus(t)
	srv.announce(t)
	photos, _ := samplePhotos(t)
	env := []string{"DEEPRANK_STORE_KIND=milvus", "DEEPRANK_STORE_MILVUS_ADDRESS=" + srv.address(t)}
	folders := []string{filepath.Join(photos, "beach"), filepath.Join(photos, "sea"), filepath.Join(photos, "fog")}
	out, code := run(t, env, append([]string{"ingest", "--collection", "photos"}, folders...)...)
	expect(t, "ingest", out, code, 0, "failed 0")
	var stored int
	for _, f := range folders {
		names, err := os.ReadDir(f)
		if err != nil {
			t.Fatal(err)
		}
		stored += len(names)
	}

	uploads := t.TempDir()
	t.Setenv("DEEPRANK_SERVE_UPLOAD_DIR", uploads)
	serve := fixture.StartServe(t, cli(t), "--store", "milvus", "--milvus-address", srv.address(t))
	api := serve.Base + "/v1/collections"

	var list struct {
		Collections []struct {
			Name, Metric string
			Count, Dim   int
		}
	}
	getJSON(t, api, &list)
	if dim := defaultDim(t); len(list.Collections) != 1 || list.Collections[0].Name != "photos" || list.Collections[0].Count != stored || list.Collections[0].Dim != dim {
		t.Fatalf("GET /v1/collections: %+v; want photos with %d vectors of the default model's %d dimensions", list.Collections, stored, dim)
	}
	var info struct{ Count int }
	getJSON(t, api+"/photos", &info)
	if info.Count != stored {
		t.Errorf("GET /v1/collections/photos: count %d, want %d", info.Count, stored)
	}

	photo := filepath.Join(photos, "beach", "beach3.jpg")
	data, id := fixture.ReadID(t, photo)
	uploadType, uploadBody := fixture.ImageForm("beach3.jpg", data, "top_k", "3")
	for _, search := range []struct {
		name, contentType string
		body              []byte
	}{
		{"upload", uploadType, uploadBody},
		{"by id", "application/json", []byte(`{"id":"` + id + `","top_k":3}`)},
	} {
		resp, err := http.Post(api+"/photos/search", search.contentType, bytes.NewReader(search.body))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Results []struct {
				ID, Path string
				Distance float64
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(got.Results) != 3 {
			t.Fatalf("search %s: status %d, %d results, %v", search.name, resp.StatusCode, len(got.Results), err)
		}
		if r := got.Results[0]; r.ID != id || r.Path != photo || r.Distance > 1e-4 {
			t.Errorf("search %s: first result %+v; want %s at distance 0", search.name, r, photo)
		}
	}
	for _, path := range []string{"/photos/images/" + id, "/photos/images/" + id + "/thumbnail"} {
		resp, err := http.Get(api + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(http.DetectContentType(b), "image/") {
			t.Errorf("GET %s: status %d, %s", path, resp.StatusCode, http.DetectContentType(b))
		}
	}
	// Writes go straight to Milvus: an upload is found by a search by
	// upload, and a delete removes it and its file.
	desert, _ := filepath.Glob(filepath.Join(photos, "desert", "*.jpg"))
	if len(desert) == 0 {
		t.Fatal("no photos in the sample's desert folder")
	}
	newPhoto := desert[0]
	data, newID := fixture.ReadID(t, newPhoto)
	upload := func(path string) *http.Response {
		contentType, body := fixture.ImageForm(filepath.Base(newPhoto), data)
		resp, err := http.Post(api+path, contentType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := upload("/photos/images")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %d, want 201", resp.StatusCode)
	}
	resp = upload("/photos/search")
	var found struct{ Results []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&found)
	resp.Body.Close()
	if len(found.Results) == 0 || found.Results[0].ID != newID {
		t.Errorf("search for the uploaded photo: %+v, want %s first", found.Results, newID[:12])
	}
	req, _ := http.NewRequest(http.MethodDelete, api+"/photos/images/"+newID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("delete: status %d, want 200", resp.StatusCode)
	}
	if left, _ := os.ReadDir(uploads); len(left) != 0 {
		t.Errorf("the upload folder keeps %d files after the delete", len(left))
	}
	getJSON(t, api+"/photos", &info)
	if info.Count != stored {
		t.Errorf("after upload and delete: count %d, want %d", info.Count, stored)
	}

	if log := serve.Stop(t); !strings.Contains(log, "POST /v1/collections/photos/search 200") {
		t.Errorf("the request log lacks the searches:\n%s", log)
	}
}

// getJSON decodes the JSON answer of a GET of url into v, failing the test
// on any status but 200.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// defaultDim is the size of the default model's vectors.
func defaultDim(t *testing.T) int {
	t.Helper()
	m, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.Dim()
}
