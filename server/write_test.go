package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/color"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// writerFor opens the testbed's store for one write, as deeprank serve
// does, waiting wait for another writer.
func writerFor(f *testbed, wait time.Duration) func(context.Context) (vectorstore.Store, func() error, error) {
	return func(context.Context) (vectorstore.Store, func() error, error) {
		w, err := embedded.Open(filepath.Join(f.dir, "store"), &embedded.Options{LockWait: wait})
		if err != nil {
			return nil, nil, err
		}
		return w, w.Close, nil
	}
}

// uploadBody is a multipart upload of data as a file named filename.
func uploadBody(t *testing.T, filename string, data []byte) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("image", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), buf.String()
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// call sends one request and gives the status, the body and the headers.
func call(t *testing.T, method, url, contentType, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// TestUploadAndDelete runs its cases in order over one server: an upload
// is stored, found by search at distance 0, stored once however often it
// is sent, and deleted with its file; an ingested image is deleted but its
// file kept.
func TestUploadAndDelete(t *testing.T) {
	f := mustTestbed(t)
	uploads := t.TempDir()
	_, ts := mustServe(t, f, &Options{Config: Config{MaxUploadBytes: 64 << 10, UploadDir: uploads}, OpenWriter: writerFor(f, 0)})
	newPNG := filepath.Join(t.TempDir(), "new.png")
	writePNG(t, newPNG, 60, 40, color.RGBA{30, 160, 40, 255}, 7)
	newBytes, _ := os.ReadFile(newPNG)
	newID := hashOf(newBytes)
	newPath := filepath.Join(uploads, newID+".png")
	huge := filepath.Join(t.TempDir(), "huge.png")
	writePNG(t, huge, 400, 400, color.RGBA{100, 100, 100, 255}, 1) // over testbedPixels
	hugeBytes, _ := os.ReadFile(huge)
	ctNew, bodyNew := uploadBody(t, "New.PNG", newBytes)
	ctSearch, bodySearch := upload(t, newBytes, map[string]string{"top_k": "1"})
	ctNot, bodyNot := uploadBody(t, "x.png", []byte("not an image at all"))
	ctHuge, bodyHuge := uploadBody(t, "huge.png", hugeBytes)
	ctBig, bodyBig := uploadBody(t, "big.png", bytes.Repeat([]byte{1}, 100<<10))
	ctOdd, bodyOdd := uploadBody(t, "../../evil.p/ng;rm", newBytes)
	images := "/v1/collections/photos/images"
	ingested := f.ids["b1.png"]
	allowFor := map[bool]string{true: "POST", false: "GET, DELETE"} // the folder, an image

	count := func(t *testing.T, want int) {
		t.Helper()
		_, b, _ := call(t, "GET", ts.URL+"/v1/collections/photos", "", "")
		var got collectionInfo
		json.Unmarshal(b, &got)
		if got.Count != want {
			t.Errorf("collection holds %d images, want %d", got.Count, want)
		}
	}
	stored := func(created bool) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			var got storedItem
			json.Unmarshal(b, &got)
			if got.ID != newID || got.Path != newPath || got.Created != created || got.Metadata.Width != 60 || got.Metadata.Height != 40 ||
				got.Thumbnail != images+"/"+newID+"/thumbnail" {
				t.Errorf("got %+v, want id %s at %s, 60x40, created %v", got, newID, newPath, created)
			}
			if on, err := os.ReadFile(newPath); err != nil || !bytes.Equal(on, newBytes) {
				t.Errorf("upload file: %v; want the uploaded bytes", err)
			}
			count(t, testbedImages+1)
		}
	}
	cases := []struct {
		name, method, path, contentType, body string
		wantStatus                            int
		wantCode                              string
		check                                 func(*testing.T, []byte)
	}{
		{"upload", "POST", images, ctNew, bodyNew, 201, "", stored(true)},
		{"search finds it", "POST", "/v1/collections/photos/search", ctSearch, string(bodySearch), 200, "", func(t *testing.T, b []byte) {
			if got := decodeSearch(t, b); len(got.Results) != 1 || got.Results[0].ID != newID || got.Results[0].Distance > 1e-5 {
				t.Errorf("results %+v, want the upload at distance 0", got.Results)
			}
		}},
		{"image of it", "GET", images + "/" + newID, "", "", 200, "", func(t *testing.T, b []byte) {
			if !bytes.Equal(b, newBytes) {
				t.Errorf("served %d bytes, not the upload's %d", len(b), len(newBytes))
			}
		}},
		{"upload again", "POST", images, ctNew, bodyNew, 200, "", stored(false)},
		{"upload again, odd name", "POST", images, ctOdd, bodyOdd, 200, "", stored(false)},
		{"upload not an image", "POST", images, ctNot, bodyNot, 400, "bad_request", nil},
		{"upload pixel limit", "POST", images, ctHuge, bodyHuge, 413, "too_large", nil},
		{"upload too big", "POST", images, ctBig, bodyBig, 413, "too_large", nil},
		{"upload JSON", "POST", images, "application/json", `{}`, 400, "bad_request", nil},
		{"upload unknown collection", "POST", "/v1/collections/nope/images", ctNew, bodyNew, 404, "not_found", nil},
		{"upload by GET", "GET", images, "", "", 405, "method_not_allowed", nil},
		{"image by POST", "POST", images + "/" + newID, "", "", 405, "method_not_allowed", nil},
		{"delete bad id", "DELETE", images + "/abc", "", "", 400, "bad_request", nil},
		{"delete not stored", "DELETE", images + "/" + strings.Repeat("ab", 32), "", "", 404, "not_found", nil},
		{"delete unknown collection", "DELETE", "/v1/collections/nope/images/" + newID, "", "", 404, "not_found", nil},
		{"delete upload", "DELETE", images + "/" + newID, "", "", 200, "", func(t *testing.T, b []byte) {
			var got deleted
			if json.Unmarshal(b, &got); got != (deleted{ID: newID, Deleted: true, FileRemoved: true}) {
				t.Errorf("body %s, want deleted and file_removed", b)
			}
			if _, err := os.Stat(newPath); !os.IsNotExist(err) {
				t.Errorf("upload file after delete: %v; want it gone", err)
			}
			count(t, testbedImages)
		}},
		{"delete upload again", "DELETE", images + "/" + newID, "", "", 404, "not_found", nil},
		{"image of deleted", "GET", images + "/" + newID, "", "", 404, "not_found", nil},
		{"delete ingested", "DELETE", images + "/" + ingested, "", "", 200, "", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte(`"file_removed": false`)) {
				t.Errorf("body %s, want file_removed false", b)
			}
			if _, err := os.Stat(f.files["b1.png"]); err != nil {
				t.Errorf("ingested file after delete: %v; want it kept", err)
			}
			count(t, testbedImages-1)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, b, h := call(t, tc.method, ts.URL+tc.path, tc.contentType, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, b)
			}
			if status == 405 && h.Get("Allow") != allowFor[tc.path == images] {
				t.Errorf("Allow %q, want %q", h.Get("Allow"), allowFor[tc.path == images])
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
	leftovers, _ := os.ReadDir(uploads)
	for _, e := range leftovers {
		t.Errorf("upload folder holds %s after the upload was deleted", e.Name())
	}
}

// TestWriteRefused: writes get 503 store_busy with Retry-After while
// another writer holds the store, and 403 from a server given no writer or
// no upload folder; nothing is stored.
func TestWriteRefused(t *testing.T) {
	f := mustTestbed(t)
	newPNG := filepath.Join(t.TempDir(), "new.png")
	writePNG(t, newPNG, 60, 40, color.RGBA{30, 160, 40, 255}, 7)
	newBytes, _ := os.ReadFile(newPNG)
	ct, body := uploadBody(t, "new.png", newBytes)
	images := "/v1/collections/photos/images"
	ingested := images + "/" + f.ids["r0.png"]
	cases := []struct {
		name               string
		o                  Options
		holdLock           bool
		method, path       string
		wantStatus         int
		wantCode, wantWait string
	}{
		{"upload, lock held", Options{OpenWriter: writerFor(f, 50*time.Millisecond)}, true, "POST", images, 503, "store_busy", "5"},
		{"delete, lock held", Options{OpenWriter: writerFor(f, 50*time.Millisecond)}, true, "DELETE", ingested, 503, "store_busy", "5"},
		{"upload, no upload folder", Options{OpenWriter: writerFor(f, 0)}, false, "POST", images, 403, "uploads_disabled", ""},
		{"upload, no writer", Options{}, false, "POST", images, 403, "uploads_disabled", ""},
		{"delete, no writer", Options{}, false, "DELETE", ingested, 403, "read_only", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.OpenWriter != nil && tc.holdLock {
				tc.o.UploadDir = t.TempDir()
				w, err := embedded.Open(filepath.Join(f.dir, "store"), nil) // an ingest, say
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
			}
			_, ts := mustServe(t, f, &tc.o)
			status, b, h := call(t, tc.method, ts.URL+tc.path, ct, body)
			var e errorResponse
			json.Unmarshal(b, &e)
			if status != tc.wantStatus || e.Error.Code != tc.wantCode || h.Get("Retry-After") != tc.wantWait {
				t.Errorf("%d %s Retry-After %q, want %d %s Retry-After %q: %s", status, e.Error.Code, h.Get("Retry-After"),
					tc.wantStatus, tc.wantCode, tc.wantWait, b)
			}
			if tc.o.UploadDir != "" {
				if left, _ := os.ReadDir(tc.o.UploadDir); len(left) > 0 {
					t.Errorf("upload folder holds %d files after a refused upload", len(left))
				}
			}
			c, _ := f.store.Open(context.Background(), "photos")
			if n, _ := c.Count(context.Background()); n != testbedImages {
				t.Errorf("collection holds %d images, want %d: a refused write wrote", n, testbedImages)
			}
		})
	}
}

// FuzzUploadExt: whatever file name a client sends, the extension kept is
// none or a dot and a few lower-case letters or digits, so that the stored
// name stays in the upload folder.
func FuzzUploadExt(f *testing.F) {
	for _, s := range []string{"a.png", "A.JPG", "../../x.p/ng", "x.png;rm -rf", ".", "", "a.tar.gz", "x.\x00png", "x.verylongextension"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ext := uploadExt(name)
		if ext != "" && !extRE.MatchString(ext) {
			t.Errorf("uploadExt(%q) = %q", name, ext)
		}
		if filepath.Base(strings.Repeat("a", 64)+ext) != strings.Repeat("a", 64)+ext {
			t.Errorf("uploadExt(%q) = %q leaves the folder", name, ext)
		}
	})
}
