package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/internal/fixture"
)

// TestServeEndpoints runs the real binary's serve on a free loopback port,
// with a token, over sample photos ingested with the default model, and
// calls every endpoint: the answers, each error status a client can cause
// (400, 401, 404, 405, 413), and that an image is served only by the id of
// one stored, never through a path (.., absolute, encoded slashes).
func TestServeEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	sample := fixture.RequireData(t, "../../data/sample", "scripts/fetch-sample.sh")
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	store := filepath.Join(dir, "store")
	ingest := exec.Command(bin, "ingest", "--collection", "sample", "--store-dir", store,
		filepath.Join(sample, "beach"), filepath.Join(sample, "fog"))
	if out, err := ingest.CombinedOutput(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	const token = "s3cret"
	t.Setenv("DEEPRANK_SERVE_TOKEN", token)
	t.Setenv("DEEPRANK_SERVE_MAX_UPLOAD_BYTES", "1000000")
	srv := fixture.StartServe(t, bin, "--store-dir", store)

	photo, id := fixture.ReadID(t, filepath.Join(sample, "beach", "beach3.jpg"))
	upload := func(data []byte) (string, []byte) { return fixture.ImageForm("query.jpg", data, "top_k", "3") }
	photoType, photoBody := upload(photo)
	junkType, junkBody := upload([]byte("not an image at all"))
	bigType, bigBody := upload(bytes.Repeat([]byte{0xff}, 2_000_000))
	api := "/v1/collections/sample"
	unknown := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name, method, path, contentType string
		body                            []byte
		noToken                         bool
		want                            int
		wantIn                          string // in the body
	}{
		{"health needs no token", "GET", "/healthz", "", nil, true, 200, ""},
		{"page needs no token", "GET", "/", "", nil, true, 200, "<html"},
		{"API without the token", "GET", "/v1/collections", "", nil, true, 401, `"unauthorized"`},
		{"metrics", "GET", "/metrics", "", nil, false, 200, "deeprank_"},
		{"collections", "GET", "/v1/collections", "", nil, false, 200, `"sample"`},
		{"collection", "GET", api, "", nil, false, 200, fmt.Sprintf(`"dim": %d`, defaultModelSpec(t).Dim)},
		{"unknown collection", "GET", "/v1/collections/nope", "", nil, false, 404, `"not_found"`},
		{"search by upload", "POST", api + "/search", photoType, photoBody, false, 200, id},
		{"search by id", "POST", api + "/search", "application/json", []byte(`{"id":"` + id + `"}`), false, 200, id},
		{"search not an image", "POST", api + "/search", junkType, junkBody, false, 400, `"bad_request"`},
		{"search too large", "POST", api + "/search", bigType, bigBody, false, 413, `"too_large"`},
		{"search bad top_k", "POST", api + "/search", "application/json", []byte(`{"id":"` + id + `","top_k":-1}`), false, 400, `"bad_request"`},
		{"search wrong method", "GET", api + "/search", "", nil, false, 405, ""},
		{"image", "GET", api + "/images/" + id, "", nil, false, 200, ""},
		{"thumbnail", "GET", api + "/images/" + id + "/thumbnail", "", nil, false, 200, ""},
		{"image not stored", "GET", api + "/images/" + unknown, "", nil, false, 404, `"not_found"`},
		{"image dot dot", "GET", api + "/images/../../../../etc/passwd", "", nil, false, 404, ""},
		{"image absolute", "GET", api + "/images//etc/passwd", "", nil, false, 404, ""},
		{"image encoded slashes", "GET", api + "/images/..%2F..%2F..%2Fetc%2Fpasswd", "", nil, false, 400, `"bad_request"`},
		{"image encoded absolute", "GET", api + "/images/%2Fetc%2Fpasswd", "", nil, false, 400, `"bad_request"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.Base, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tc.path // sent as written: no cleaning of .. or %2F
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if !tc.noToken {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.wantIn) {
				t.Fatalf("%s %s: status %d, want %d with %q in: %.300s", tc.method, tc.path, resp.StatusCode, tc.want, tc.wantIn, b)
			}
			if tc.want >= 400 && strings.HasPrefix(tc.path, "/v1/") && !json.Valid(b) {
				t.Errorf("the error is not JSON: %.200s", b)
			}
			if strings.HasSuffix(tc.name, "by upload") || strings.HasSuffix(tc.name, "by id") {
				var got struct {
					Results []struct {
						ID       string
						Distance float64
					}
				}
				json.Unmarshal(b, &got)
				if len(got.Results) == 0 || got.Results[0].ID != id || got.Results[0].Distance > 1e-4 {
					t.Errorf("first result %+v, want %s at distance 0", got.Results, id[:12])
				}
			}
		})
	}
	srv.Stop(t)
}
