package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// testbed is a collection "photos" of small images in two classes, on an
// embedded store opened read-only as deeprank serve opens it.
type testbed struct {
	dir   string
	store vectorstore.Store
	emb   *embedder.Embedder
	ids   map[string]string // file name (r0.png) to id
	files map[string]string // file name to path
}

const (
	testbedImages = 8       // 4 red, 4 blue
	testbedPixels = 100_000 // the embedder's pixel limit
)

// mustTestbed ingests the testbed's images with a tiny model.
func mustTestbed(t testing.TB) *testbed {
	t.Helper()
	f := &testbed{dir: t.TempDir(), ids: map[string]string{}, files: map[string]string{}}
	m, err := model.Load(fixture.TinyModel(t, f.dir))
	if err != nil {
		t.Fatal(err)
	}
	f.emb, err = embedder.New(m, &embedder.Options{Workers: 1, Decode: &imageio.Options{MaxPixels: testbedPixels}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range testbedImages {
		class, base := "red", color.RGBA{200, 30, 20, 255}
		if i%2 == 1 {
			class, base = "blue", color.RGBA{20, 40, 210, 255}
		}
		name := fmt.Sprintf("%c%d.png", class[0], i)
		p := filepath.Join(f.dir, "photos", class, name)
		writePNG(t, p, 96, 64, base, i)
		f.files[name] = p
		paths = append(paths, p)
	}
	ctx := context.Background()
	w, err := embedded.Open(filepath.Join(f.dir, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := vectorstore.Spec{Dim: f.emb.Dim(), Metric: vectorstore.MetricL2, ModelVersion: f.emb.ModelVersion()}
	if err := w.Create(ctx, "photos", spec); err != nil {
		t.Fatal(err)
	}
	c, err := w.Open(ctx, "photos")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.emb.EmbedFiles(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	var items []vectorstore.Item
	for i, p := range paths {
		if res[i].Err != nil {
			t.Fatal(res[i].Err)
		}
		data, _ := os.ReadFile(p)
		sum := sha256.Sum256(data)
		id := hex.EncodeToString(sum[:])
		f.ids[filepath.Base(p)] = id
		items = append(items, vectorstore.Item{ID: id, Vector: res[i].Vector,
			Metadata: vectorstore.Metadata{Path: p, Size: int64(len(data)), Width: 96, Height: 64, Class: filepath.Base(filepath.Dir(p))}})
	}
	if err := c.Upsert(ctx, f.emb.ModelVersion(), items); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.store, err = embedded.Open(filepath.Join(f.dir, "store"), &embedded.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return f
}

// writePNG writes a w×h PNG of colour c with a pattern that seed varies.
func writePNG(t testing.TB, path string, w, h int, c color.RGBA, seed int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			d := uint8((x*seed + y*3) % 40)
			img.Set(x, y, color.RGBA{c.R + d, c.G + d, c.B - d, 255})
		}
	}
	fixture.WritePNG(t, path, img)
}

// mustServe starts a server over the testbed's store on a loopback port.
func mustServe(t testing.TB, f *testbed, o *Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(f.store, f.emb, o)
	record(t, s)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// upload is a multipart search body with an image and form fields.
func upload(t *testing.T, image []byte, fields map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("image", "query.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(image)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

type searchResponse struct {
	ModelVersion string   `json:"model_version"`
	Results      []result `json:"results"`
}

type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestAPI calls every endpoint, with good and bad requests, and checks the
// status, the error code and what comes back.
func TestAPI(t *testing.T) {
	f := mustTestbed(t)
	_, ts := mustServe(t, f, &Options{Config: Config{MaxUploadBytes: 64 << 10, ThumbnailCacheBytes: 1 << 20}})
	r1, _ := os.ReadFile(f.files["r0.png"])
	other := filepath.Join(t.TempDir(), "other.png")
	writePNG(t, other, 50, 50, color.RGBA{100, 100, 100, 255}, 1)
	otherBytes, _ := os.ReadFile(other)
	huge := filepath.Join(t.TempDir(), "huge.png")
	writePNG(t, huge, 400, 400, color.RGBA{100, 100, 100, 255}, 1) // 160,000 pixels: over testbedPixels
	hugeBytes, _ := os.ReadFile(huge)
	notStored := strings.Repeat("ab", 32)
	stored := f.ids["b1.png"]
	var b1Vector []float32
	{
		c, _ := f.store.Open(context.Background(), "photos")
		items, _ := c.Get(context.Background(), []string{stored})
		b1Vector = items[0].Vector
	}
	vectorJSON, _ := json.Marshal(map[string]any{"vector": b1Vector})
	ctUpload, bodyUpload := upload(t, r1, map[string]string{"top_k": "3"})
	ctFiltered, bodyFiltered := upload(t, r1, map[string]string{"filter": "class=blue"})
	ctNear, bodyNear := upload(t, r1, map[string]string{"max_distance": "0.0001"})
	ctBadK, bodyBadK := upload(t, r1, map[string]string{"top_k": "0"})
	ctBadFilter, bodyBadFilter := upload(t, r1, map[string]string{"filter": "colour=red"})
	ctNotImage, bodyNotImage := upload(t, []byte("not an image at all"), nil)
	ctHuge, bodyHuge := upload(t, hugeBytes, nil)
	ctTooBig, bodyTooBig := upload(t, bytes.Repeat([]byte{1}, 100<<10), nil)
	ctOther, bodyOther := upload(t, otherBytes, map[string]string{"top_k": "100"})

	search := "/v1/collections/photos/search"
	cases := []struct {
		name, method, path, contentType, body string
		wantStatus                            int
		wantCode                              string                   // the error code, for errors
		check                                 func(*testing.T, []byte) // checks a 200's body
	}{
		{"healthz", "GET", "/healthz", "", "", 200, "", nil},
		{"page", "GET", "/", "", "", 200, "", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte("<html")) {
				t.Errorf("the page is not HTML: %.100s", b)
			}
		}},
		{"list", "GET", "/v1/collections", "", "", 200, "", func(t *testing.T, b []byte) {
			var got struct{ Collections []collectionInfo }
			json.Unmarshal(b, &got)
			if len(got.Collections) != 1 || got.Collections[0].Name != "photos" || got.Collections[0].Count != testbedImages {
				t.Errorf("collections %+v, want photos with %d images", got.Collections, testbedImages)
			}
		}},
		{"describe", "GET", "/v1/collections/photos", "", "", 200, "", func(t *testing.T, b []byte) {
			var got collectionInfo
			json.Unmarshal(b, &got)
			want := collectionInfo{Name: "photos", Count: testbedImages, Dim: f.emb.Dim(), ModelVersion: f.emb.ModelVersion(), Metric: "L2"}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}},
		{"describe unknown", "GET", "/v1/collections/nope", "", "", 404, "not_found", nil},
		{"describe bad name", "GET", "/v1/collections/no-such-name", "", "", 404, "not_found", nil},
		{"search upload", "POST", search, ctUpload, string(bodyUpload), 200, "", func(t *testing.T, b []byte) {
			got := decodeSearch(t, b)
			if len(got.Results) != 3 || got.Results[0].ID != f.ids["r0.png"] || got.Results[0].Distance > 1e-5 || got.Results[0].Rank != 1 {
				t.Fatalf("results %+v, want 3 with r0.png first at distance 0", got.Results)
			}
			if got.ModelVersion != f.emb.ModelVersion() || got.Results[0].Path != f.files["r0.png"] ||
				got.Results[0].Thumbnail != "/v1/collections/photos/images/"+f.ids["r0.png"]+"/thumbnail" {
				t.Errorf("response %+v", got)
			}
		}},
		{"search filter", "POST", search, ctFiltered, string(bodyFiltered), 200, "", func(t *testing.T, b []byte) {
			got := decodeSearch(t, b)
			if len(got.Results) != testbedImages/2 {
				t.Errorf("%d results, want the %d blue images", len(got.Results), testbedImages/2)
			}
			for _, r := range got.Results {
				if r.Metadata.Class != "blue" {
					t.Errorf("result %s of class %q passed filter class=blue", r.ID, r.Metadata.Class)
				}
			}
		}},
		{"search max distance", "POST", search, ctNear, string(bodyNear), 200, "", func(t *testing.T, b []byte) {
			if got := decodeSearch(t, b); len(got.Results) != 1 || got.Results[0].ID != f.ids["r0.png"] {
				t.Errorf("results %+v, want only r0.png", got.Results)
			}
		}},
		{"search top_k over the collection", "POST", search, ctOther, string(bodyOther), 200, "", func(t *testing.T, b []byte) {
			if got := decodeSearch(t, b); len(got.Results) != testbedImages {
				t.Errorf("%d results, want all %d", len(got.Results), testbedImages)
			}
		}},
		{"search by id", "POST", search, "application/json", `{"id":"` + stored + `","top_k":2}`, 200, "", func(t *testing.T, b []byte) {
			if got := decodeSearch(t, b); len(got.Results) != 2 || got.Results[0].ID != stored {
				t.Errorf("results %+v, want 2 with b1.png first", got.Results)
			}
		}},
		{"search by vector", "POST", search, "application/json", string(vectorJSON), 200, "", func(t *testing.T, b []byte) {
			if got := decodeSearch(t, b); got.Results[0].ID != stored || got.Results[0].Distance > 1e-5 {
				t.Errorf("results %+v, want b1.png first", got.Results)
			}
		}},
		{"search unknown collection", "POST", "/v1/collections/nope/search", "application/json", `{"id":"` + stored + `"}`, 404, "not_found", nil},
		{"search id not stored", "POST", search, "application/json", `{"id":"` + notStored + `"}`, 404, "not_found", nil},
		{"search bad id", "POST", search, "application/json", `{"id":"../../etc/passwd"}`, 400, "bad_request", nil},
		{"search id and vector", "POST", search, "application/json", `{"id":"` + stored + `","vector":[1]}`, 400, "bad_request", nil},
		{"search nothing", "POST", search, "application/json", `{}`, 400, "bad_request", nil},
		{"search vector length", "POST", search, "application/json", `{"vector":[1,2]}`, 400, "bad_request", nil},
		{"search unknown field", "POST", search, "application/json", `{"id":"` + stored + `","k":3}`, 400, "bad_request", nil},
		{"search bad JSON", "POST", search, "application/json", `{"id":`, 400, "bad_request", nil},
		{"search JSON too big", "POST", search, "application/json", `{"vector":[` + strings.Repeat("0,", 40<<10) + `0]}`, 413, "too_large", nil},
		{"search no content type", "POST", search, "", "x", 400, "bad_request", nil},
		{"search top_k 0", "POST", search, ctBadK, string(bodyBadK), 400, "bad_request", nil},
		{"search bad filter", "POST", search, ctBadFilter, string(bodyBadFilter), 400, "bad_request", nil},
		{"search not an image", "POST", search, ctNotImage, string(bodyNotImage), 400, "bad_request", nil},
		{"search pixel limit", "POST", search, ctHuge, string(bodyHuge), 413, "too_large", nil},
		{"search upload too big", "POST", search, ctTooBig, string(bodyTooBig), 413, "too_large", nil},
		{"search by GET", "GET", search, "", "", 405, "method_not_allowed", nil},
		{"collections by POST", "POST", "/v1/collections", "", "", 405, "method_not_allowed", nil},
		{"image", "GET", "/v1/collections/photos/images/" + f.ids["r0.png"], "", "", 200, "", func(t *testing.T, b []byte) {
			if !bytes.Equal(b, r1) {
				t.Errorf("served %d bytes, not the file's %d", len(b), len(r1))
			}
		}},
		{"thumbnail", "GET", "/v1/collections/photos/images/" + f.ids["r0.png"] + "/thumbnail", "", "", 200, "", func(t *testing.T, b []byte) {
			img, err := jpeg.Decode(bytes.NewReader(b))
			if err != nil || img.Bounds().Dx() != 96 || img.Bounds().Dy() != 64 {
				t.Errorf("thumbnail: %v, %v; want a 96x64 JPEG (no upscaling)", err, img.Bounds())
			}
		}},
		{"image not stored", "GET", "/v1/collections/photos/images/" + notStored, "", "", 404, "not_found", nil},
		{"thumbnail not stored", "GET", "/v1/collections/photos/images/" + notStored + "/thumbnail", "", "", 404, "not_found", nil},
		{"image of another collection", "GET", "/v1/collections/nope/images/" + f.ids["r0.png"], "", "", 404, "not_found", nil},
		{"image id upper case", "GET", "/v1/collections/photos/images/" + strings.ToUpper(f.ids["r0.png"]), "", "", 400, "bad_request", nil},
		{"image id short", "GET", "/v1/collections/photos/images/abc", "", "", 400, "bad_request", nil},
		{"image encoded slashes", "GET", "/v1/collections/photos/images/..%2F..%2F..%2Fetc%2Fpasswd", "", "", 400, "bad_request", nil},
		{"image encoded absolute", "GET", "/v1/collections/photos/images/%2Fetc%2Fpasswd", "", "", 400, "bad_request", nil},
		{"thumbnail encoded path", "GET", "/v1/collections/photos/images/%2E%2E%2F" + f.ids["r0.png"] + "/thumbnail", "", "", 400, "bad_request", nil},
		// The server redirects to the cleaned path, which is no route.
		{"image dot dot", "GET", "/v1/collections/photos/images/../../../../etc/passwd", "", "", 404, "not_found", nil},
		{"image absolute", "GET", "/v1/collections/photos/images//etc/passwd", "", "", 404, "not_found", nil},
		{"image stored path", "GET", "/v1/collections/photos/images/" + f.files["r0.png"], "", "", 404, "not_found", nil},
		{"thumbnail dot dot", "GET", "/v1/collections/photos/images/" + f.ids["r0.png"] + "/../../../../../etc/passwd/thumbnail", "", "", 404, "not_found", nil},
		{"metrics", "GET", "/metrics", "", "", 200, "", func(t *testing.T, b []byte) {
			for _, want := range []string{
				fmt.Sprintf(`deeprank_collection_items{collection="photos"} %d`, testbedImages),
				`deeprank_http_request_duration_seconds_count{route="POST /v1/collections/{name}/search",status="200"}`,
				`deeprank_http_request_duration_seconds_count{route="GET /v1/collections/{name}/images/{id}",status="400"}`,
				"deeprank_embed_duration_seconds_count ",
			} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("metrics lack %s:\n%s", want, b)
				}
			}
		}},
		{"unknown route", "GET", "/v2/collections", "", "", 404, "not_found", nil},
		{"static file not there", "GET", "/static/nope.js", "", "", 404, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The URL is sent as written: no client-side cleaning of .. or %2F.
			req, err := http.NewRequest(tc.method, ts.URL, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tc.path
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if tc.wantCode != "" {
				var e errorResponse
				if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != tc.wantCode || e.Error.Message == "" {
					t.Errorf("body %s, want a JSON error with code %q and a message", b, tc.wantCode)
				}
			}
			if tc.check != nil {
				tc.check(t, b)
			}
		})
	}
}

func decodeSearch(t *testing.T, b []byte) searchResponse {
	t.Helper()
	var got searchResponse
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("search response %s: %v", b, err)
	}
	return got
}

// get requests path with an optional bearer token and returns the status,
// the error code (if any) and the response.
func get(t *testing.T, url, token string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e errorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error.Code, resp.Header
}

func TestToken(t *testing.T) {
	f := mustTestbed(t)
	_, ts := mustServe(t, f, &Options{Config: Config{Token: "s3cret"}})
	cases := []struct {
		path, token string
		wantStatus  int
	}{
		{"/v1/collections", "", 401},
		{"/v1/collections", "wrong", 401},
		{"/v1/collections", "s3cret", 200},
		{"/v1/collections/photos/images/" + f.ids["r0.png"], "", 401},
		{"/v1/collections/photos/images/" + f.ids["r0.png"], "s3cret", 200},
		{"/metrics", "", 401},
		{"/metrics", "s3cret", 200},
		{"/healthz", "", 200},
		{"/", "", 200},
		{"/static/app.js", "", 200},
	}
	for _, tc := range cases {
		status, code, h := get(t, ts.URL+tc.path, tc.token)
		if status != tc.wantStatus {
			t.Errorf("GET %s with token %q: status %d, want %d", tc.path, tc.token, status, tc.wantStatus)
		}
		if status == 401 && (code != "unauthorized" || h.Get("WWW-Authenticate") == "") {
			t.Errorf("GET %s: 401 with code %q and WWW-Authenticate %q", tc.path, code, h.Get("WWW-Authenticate"))
		}
	}
}

// TestTokenEveryRoute: each route under the token refuses a request
// without it, whatever the method.
func TestTokenEveryRoute(t *testing.T) {
	f := mustTestbed(t)
	s, ts := mustServe(t, f, &Options{Config: Config{Token: "s3cret"}})
	for _, r := range s.routeTable() {
		method, pattern, _ := strings.Cut(r.pattern, " ")
		path := strings.NewReplacer("{name}", "photos", "{id}", f.ids["r0.png"]).Replace(pattern)
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		if !s.needsToken(req) {
			continue
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s without the token: status %d, want 401", r.pattern, resp.StatusCode)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	cases := []struct {
		addr, token string
		want        error // nil, ErrNeedsToken, or errAny for a malformed address
	}{
		{"127.0.0.1:8080", "", nil},
		{"127.0.0.2:8080", "", nil},
		{"[::1]:8080", "", nil},
		{"localhost:8080", "", nil},
		{"0.0.0.0:8080", "", ErrNeedsToken},
		{":8080", "", ErrNeedsToken},
		{"192.168.1.5:8080", "", ErrNeedsToken},
		{"example.org:8080", "", ErrNeedsToken},
		{"0.0.0.0:8080", "t", nil},
		{"8080", "", errAny},
	}
	for _, tc := range cases {
		err := CheckAddr(tc.addr, tc.token)
		switch {
		case tc.want == errAny && err == nil,
			tc.want != errAny && !errors.Is(err, tc.want):
			t.Errorf("CheckAddr(%q, %q) = %v, want %v", tc.addr, tc.token, err, tc.want)
		}
	}
}

var errAny = errors.New("any error")

// brokenStore is a store whose server is down.
type brokenStore struct{ vectorstore.Store }

var errDown = errors.New("connect 127.0.0.1:19530: connection refused")

func (brokenStore) List(context.Context) ([]vectorstore.Info, error) { return nil, errDown }
func (brokenStore) Open(context.Context, string) (vectorstore.Collection, error) {
	return nil, errDown
}

func TestStoreUnavailable(t *testing.T) {
	f := mustTestbed(t)
	s := New(brokenStore{}, f.emb, nil)
	record(t, s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, path := range []string{"/healthz", "/v1/collections", "/v1/collections/photos", "/metrics",
		"/v1/collections/photos/images/" + f.ids["r0.png"], "/v1/collections/photos/images/" + f.ids["r0.png"] + "/thumbnail"} {
		status, code, h := get(t, ts.URL+path, "")
		if status != 503 || code != "store_unavailable" || h.Get("Retry-After") == "" {
			t.Errorf("GET %s: %d %q Retry-After %q, want 503 store_unavailable with Retry-After", path, status, code, h.Get("Retry-After"))
		}
	}
}

// postImage uploads an image to search collection photos.
func postImage(url string, ct string, body []byte) (*http.Response, error) {
	return http.Post(url+"/v1/collections/photos/search", ct, bytes.NewReader(body))
}

// TestBusyAndTimeout fills the embedding slots: with the queue full a
// search gets 503 busy at once; with room in the queue it waits, and past
// the timeout gets 503 timeout.
func TestBusyAndTimeout(t *testing.T) {
	f := mustTestbed(t)
	r1, _ := os.ReadFile(f.files["r0.png"])
	ct, body := upload(t, r1, nil)
	cases := []struct {
		name     string
		queue    int
		wantCode string
	}{
		{"queue full", 0, "busy"},
		{"queue waits", 1, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := mustServe(t, f, &Options{Config: Config{MaxEmbeds: 1, Queue: tc.queue, Timeout: 300 * time.Millisecond}})
			s.embeds <- struct{}{} // an embedding in flight
			s.waiting.Add(1)
			defer func() { <-s.embeds; s.waiting.Add(-1) }()
			began := time.Now()
			resp, err := postImage(ts.URL, ct, body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e errorResponse
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != 503 || e.Error.Code != tc.wantCode || resp.Header.Get("Retry-After") == "" {
				t.Errorf("status %d code %q Retry-After %q; want 503 %s with Retry-After", resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After"), tc.wantCode)
			}
			if waited := time.Since(began); tc.wantCode == "busy" && waited > 200*time.Millisecond {
				t.Errorf("a full queue answered after %s; want at once", waited)
			}
		})
	}
}

// TestImageChangedOnDisk: a stored image whose file now holds other bytes
// is not served, nor is one whose file is gone.
func TestImageChangedOnDisk(t *testing.T) {
	f := mustTestbed(t)
	_, ts := mustServe(t, f, nil)
	writePNG(t, f.files["r0.png"], 96, 64, color.RGBA{1, 2, 3, 255}, 5)
	os.Remove(f.files["b1.png"])
	for _, name := range []string{"r0.png", "b1.png"} {
		for _, suffix := range []string{"", "/thumbnail"} {
			if status, code, _ := get(t, ts.URL+"/v1/collections/photos/images/"+f.ids[name]+suffix, ""); status != 404 || code != "not_found" {
				t.Errorf("%s%s: %d %q, want 404 not_found", name, suffix, status, code)
			}
		}
	}
}

// TestStoredFileLimits: a stored image's file is read only if it is a
// regular file within serve.max_upload_bytes, and decoded for a thumbnail
// only within the pixel limit; anything else gets its error status at
// once. (A FIFO in the file's place blocked the old server's read until
// the client gave up.)
func TestStoredFileLimits(t *testing.T) {
	cases := []struct {
		name    string
		opts    Options
		replace func(t *testing.T, path string) // what takes the file's place; nil for nothing
		// The status and error code of the image and of its thumbnail.
		wantImage, wantThumb int
		wantCode             string
	}{
		{"within the limits", Options{}, nil, 200, 200, ""},
		{"a FIFO", Options{}, func(t *testing.T, p string) { mkfifo(t, p) }, 404, 404, "not_found"},
		{"a folder", Options{}, func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, 404, 404, "not_found"},
		{"over the upload limit", Options{Config: Config{MaxUploadBytes: 100}}, nil, 413, 413, "too_large"},
		{"over the pixel limit", Options{MaxPixels: 96*64 - 1}, nil, 200, 413, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := mustTestbed(t)
			path := f.files["r0.png"]
			if info, err := os.Stat(path); err != nil || info.Size() <= 100 {
				t.Fatalf("the test proves nothing: %s is not over 100 bytes (%v)", path, err)
			}
			if tc.replace != nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				tc.replace(t, path)
			}
			_, ts := mustServe(t, f, &tc.opts)
			url := ts.URL + "/v1/collections/photos/images/" + f.ids["r0.png"]
			for _, c := range []struct {
				url  string
				want int
			}{{url, tc.wantImage}, {url + "/thumbnail", tc.wantThumb}} {
				began := time.Now()
				status, code, _ := get(t, c.url, "")
				if status != c.want || (status != 200 && code != tc.wantCode) {
					t.Errorf("GET %s: %d %q, want %d %q", c.url[len(ts.URL):], status, code, c.want, tc.wantCode)
				}
				if took := time.Since(began); took > 2*time.Second {
					t.Errorf("GET %s answered after %s", c.url[len(ts.URL):], took)
				}
			}
		})
	}
}

// TestGracefulShutdown cancels Serve while a search waits for an
// embedding slot: the search still gets its answer, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	f := mustTestbed(t)
	s := New(f.store, f.emb, &Options{Config: Config{MaxEmbeds: 1, Queue: 1}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	s.embeds <- struct{}{} // hold the only slot, so that the search waits
	r1, _ := os.ReadFile(f.files["r0.png"])
	ct, body := upload(t, r1, nil)
	answered := make(chan int, 1)
	go func() {
		resp, err := postImage("http://"+ln.Addr().String(), ct, body)
		if err != nil {
			t.Errorf("search in flight: %v", err)
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	for s.waiting.Load() == 0 { // the search has arrived
		time.Sleep(time.Millisecond)
	}
	cancel()
	time.Sleep(100 * time.Millisecond) // Shutdown has begun: new connections are refused
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("a new request was taken after shutdown began")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a search in flight", err)
	default:
	}
	<-s.embeds // the slot frees: the search goes on
	if status := <-answered; status != 200 {
		t.Errorf("search in flight got %d, want 200", status)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestThumbCache(t *testing.T) {
	c := newThumbCache(10)
	c.put("a", []byte("aaaa"))
	c.put("b", []byte("bbbb"))
	c.get("a") // a is now the most recent: b goes first
	c.put("c", []byte("cccc"))
	c.put("big", []byte("01234567890")) // over the bound: not kept
	for key, want := range map[string]bool{"a": true, "b": false, "c": true, "big": false} {
		if _, ok := c.get(key); ok != want {
			t.Errorf("%s cached: %t, want %t", key, ok, want)
		}
	}
	if c.size != 8 {
		t.Errorf("size %d, want 8", c.size)
	}
}

// FuzzSearchJSON sends any JSON body to the search endpoint: the server
// answers 200 or a JSON error of the request's fault (400, 404, 413), never
// a 5xx or a panic.
func FuzzSearchJSON(f *testing.F) {
	tb := mustTestbed(f)
	_, ts := mustServe(f, tb, &Options{Config: Config{MaxUploadBytes: 4 << 10}})
	for _, s := range []string{`{"id":"` + tb.ids["r0.png"] + `"}`, `{"vector":[1,2]}`, `{"id":"x","top_k":-1}`,
		`{"id":"` + tb.ids["r0.png"] + `","filter":"class=red,path=/","max_distance":0.5}`, `{}`, `[`, `{"vector":null,"id":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		resp, err := http.Post(ts.URL+"/v1/collections/photos/search", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case 200:
			decodeSearch(t, b)
		case 400, 404, 413:
			var e errorResponse
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
				t.Fatalf("status %d with body %s: not a JSON error", resp.StatusCode, b)
			}
		default:
			t.Fatalf("body %q: status %d: %s", body, resp.StatusCode, b)
		}
	})
}

// TestPageOffline checks that the page needs nothing from elsewhere: every
// file it names is served from /static/, and no web file names another host.
func TestPageOffline(t *testing.T) {
	tb := mustTestbed(t)
	_, ts := mustServe(t, tb, nil)
	files, err := fs.ReadDir(web, "web")
	if err != nil {
		t.Fatal(err)
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for _, e := range files {
		b, _ := fs.ReadFile(web, "web/"+e.Name())
		if m := external.Find(b); m != nil {
			t.Errorf("%s names another host: %s", e.Name(), m)
		}
	}
	page, _ := fs.ReadFile(web, "web/index.html")
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("the test proved nothing: the page names %d files", len(refs))
	}
	for _, m := range refs {
		if status, _, _ := get(t, ts.URL+string(m[1]), ""); status != 200 {
			t.Errorf("the page names %s, served with status %d", m[1], status)
		}
	}
}

// TestModelMismatch serves a collection with an embedder of another model:
// a search by upload and storing an upload are refused with 409, while a search by a stored image, which
// uses the collection's own vectors, still works.
func TestModelMismatch(t *testing.T) {
	tb := mustTestbed(t)
	m, err := model.Load(fixture.TinyModel(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(4) // other weights: another model version
	other, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, ct, body := serveUpload(t, tb, other)
	wantModelMismatch(t, "search by upload", ts.URL+"/v1/collections/photos/search", ct, body)
	wantModelMismatch(t, "store an upload", ts.URL+"/v1/collections/photos/images", ct, body)
	resp, err := http.Post(ts.URL+"/v1/collections/photos/search", "application/json", strings.NewReader(`{"id":"`+tb.ids["r0.png"]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("search by id: status %d, want 200", resp.StatusCode)
	}
}

// TestUnrecordedLearned: storing an upload into a collection of the
// server's model that does not record its learned part (made before
// collections recorded it) is refused with 409, saying to reindex, as
// ingest refuses it.
func TestUnrecordedLearned(t *testing.T) {
	tb := mustTestbed(t)
	m, err := model.Load(fixture.TinyModel(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	m.Spec.Thumbnail = &model.Thumbnail{Side: 4, Weight: 0.1}
	thumbed, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, closeW, err := writerFor(tb, 0)(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	spec := vectorstore.Spec{Dim: thumbed.Dim(), Metric: vectorstore.MetricL2, ModelVersion: thumbed.ModelVersion()}
	if err := w.Create(t.Context(), "unrecorded", spec); err != nil {
		t.Fatal(err)
	}
	if err := closeW(); err != nil {
		t.Fatal(err)
	}
	ts, ct, body := serveUpload(t, tb, thumbed)
	wantModelMismatch(t, "store an upload", ts.URL+"/v1/collections/unrecorded/images", ct, body)
}

// serveUpload serves tb's store with emb, writes allowed, and makes an
// upload of r0.png.
func serveUpload(t *testing.T, tb *testbed, emb *embedder.Embedder) (*httptest.Server, string, []byte) {
	t.Helper()
	s := New(tb.store, emb, &Options{Config: Config{UploadDir: t.TempDir()}, OpenWriter: writerFor(tb, 0)})
	record(t, s)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	r0, _ := os.ReadFile(tb.files["r0.png"])
	ct, body := upload(t, r0, nil)
	return ts, ct, body
}

// wantModelMismatch posts body to url and wants 409 model_mismatch with a
// message that says to reindex.
func wantModelMismatch(t *testing.T, what, url, ct string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var e errorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 409 || e.Error.Code != "model_mismatch" || !strings.Contains(e.Error.Message, "reindex") {
		t.Errorf("%s: %d %+v; want 409 model_mismatch saying to reindex", what, resp.StatusCode, e.Error)
	}
}

// TestThumbnailSize: a thumbnail fits in thumbSize and keeps the image's
// aspect; a JPEG (decoded at a reduced scale) as well as a PNG.
func TestThumbnailSize(t *testing.T) {
	s := New(nil, nil, nil)
	cases := []struct {
		name         string
		w, h         int
		encode       func(io.Writer, image.Image) error
		wantW, wantH int
	}{
		{"camera JPEG", 4032, 3024, func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) }, 256, 192},
		{"portrait JPEG", 600, 1200, func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) }, 128, 256},
		{"small PNG", 96, 64, png.Encode, 96, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
			for i := range img.Pix {
				img.Pix[i] = uint8(i / 4 % 251)
			}
			var buf bytes.Buffer
			if err := tc.encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			jpg, err := s.makeThumbnail(context.Background(), buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			thumb, err := jpeg.Decode(bytes.NewReader(jpg))
			if err != nil {
				t.Fatal(err)
			}
			if got := thumb.Bounds().Size(); got != image.Pt(tc.wantW, tc.wantH) {
				t.Errorf("thumbnail %v, want %dx%d", got, tc.wantW, tc.wantH)
			}
		})
	}
}
