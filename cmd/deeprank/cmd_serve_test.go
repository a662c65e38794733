package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// TestServeRefuses checks what serve refuses before it listens.
func TestServeRefuses(t *testing.T) {
	store := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"beyond loopback without a token", []string{"--addr", "0.0.0.0:0"}, exitUsage, "set serve.token"},
		{"no port", []string{"--addr", "127.0.0.1"}, exitUsage, "give host:port"},
		{"bad collection name", []string{"--collection", "a-b"}, exitUsage, "not a valid collection name"},
		{"collection not stored", []string{"--addr", "127.0.0.1:0", "--collection", "nope"}, exitFailure, "deeprank ingest --collection nope"},
		{"port taken", []string{"--addr", taken.Addr().String()}, exitFailure, "serve: listen tcp " + taken.Addr().String()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"serve", "--store-dir", store}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantMsg) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// liveBed is the binary, a tiny model and an embedded store in a test's
// folder, for tests of serve over collection "live".
type liveBed struct{ dir, bin, model, store string }

// mustLiveBed builds the binary and the model; -short skips the test.
func mustLiveBed(t *testing.T) *liveBed {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	return &liveBed{dir: dir, bin: buildBinary(t, dir), model: fixture.TinyModel(t, dir), store: filepath.Join(dir, "store")}
}

// ingest adds the images of folder to collection live, in a process of
// its own.
func (lb *liveBed) ingest(t *testing.T, folder string) {
	t.Helper()
	out, err := exec.Command(lb.bin, "ingest", "--collection", "live", "--model", lb.model, "--store-dir", lb.store, folder).CombinedOutput()
	if err != nil {
		t.Fatalf("ingest %s: %v\n%s", folder, err, out)
	}
}

// serve starts the binary's serve over the store.
func (lb *liveBed) serve(t *testing.T) *fixture.Serve {
	t.Helper()
	return fixture.StartServe(t, lb.bin, "--model", lb.model, "--store-dir", lb.store)
}

// TestServeLiveIngest runs the real binary: a server over the embedded
// store finds, within 2 s, images that a 'deeprank ingest' in another
// process adds while it runs; SIGTERM then stops it with exit status 0.
func TestServeLiveIngest(t *testing.T) {
	lb := mustLiveBed(t)
	writeImages(t, filepath.Join(lb.dir, "first"), 0, 10)
	lb.ingest(t, filepath.Join(lb.dir, "first"))

	srv := lb.serve(t)
	base := srv.Base

	later := filepath.Join(lb.dir, "later")
	writeImages(t, later, 10, 15)
	probe := filepath.Join(later, "c0", "010.png")
	data, want := fixture.ReadID(t, probe)
	if got := nearest(t, base, data); got == want {
		t.Fatal("the test proved nothing: the image was found before it was ingested")
	}
	lb.ingest(t, later)
	ingested := time.Now()
	for nearest(t, base, data) != want {
		if time.Since(ingested) > 2*time.Second {
			t.Fatal("a search 2 s after ingest finished does not find the image it added")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("found %s after %s", filepath.Base(probe), time.Since(ingested).Round(time.Millisecond))

	if log := srv.Stop(t); !strings.Contains(log, "POST /v1/collections/live/search 200") {
		t.Errorf("the request log lacks the searches:\n%s", log)
	}
}

// TestServeShutdownBurst sends SIGTERM to the real binary while eight
// clients search as fast as it answers: every search that got an answer
// got all of it (a 200 with a whole JSON body), searches in flight at the
// signal still get theirs, serve exits 0, and the store checks clean.
func TestServeShutdownBurst(t *testing.T) {
	lb := mustLiveBed(t)
	photos := filepath.Join(lb.dir, "photos")
	writeImages(t, photos, 0, 10)
	lb.ingest(t, photos)
	srv := lb.serve(t)
	data, _ := fixture.ReadID(t, filepath.Join(photos, "c0", "000.png"))
	contentType, body := fixture.ImageForm("q.png", data)

	var (
		signalled        atomic.Bool
		inFlight         atomic.Int64
		answeredAfter    atomic.Int64 // 200s to searches sent before the signal, answered after it
		refused, answers atomic.Int64
		wg               sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				sentBefore := !signalled.Load()
				inFlight.Add(1)
				resp, err := http.Post(srv.Base+"/v1/collections/live/search", contentType, bytes.NewReader(body))
				if err != nil { // not taken: the listener is closed, or the connection was idle when it closed
					inFlight.Add(-1)
					refused.Add(1)
					if signalled.Load() {
						return
					}
					continue
				}
				var got struct{ Results []json.RawMessage }
				err = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				inFlight.Add(-1)
				if err != nil || resp.StatusCode != 200 || len(got.Results) == 0 {
					t.Errorf("a search answered %d with %d results, %v: cut, or refused with a status", resp.StatusCode, len(got.Results), err)
					return
				}
				answers.Add(1)
				if sentBefore && signalled.Load() {
					answeredAfter.Add(1)
				}
			}
		})
	}
	for answers.Load() < 20 { // the burst is under way
		time.Sleep(5 * time.Millisecond)
	}
	for inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	signalled.Store(true)
	log := srv.Stop(t)
	wg.Wait()
	t.Logf("%d searches answered, %d in flight at SIGTERM answered after it, %d not taken", answers.Load(), answeredAfter.Load(), refused.Load())
	if answeredAfter.Load() == 0 {
		t.Errorf("the test proved nothing: no search in flight at SIGTERM was answered after it\n%s", log)
	}
	if out, code := runCLI(t, "check", "--store-dir", lb.store); code != 0 {
		t.Errorf("check after serve stopped: exit %d\n%s", code, out)
	}
}

// nearest searches collection live of the server at base with an image
// and returns the id ranked first ("" for none).
func nearest(t *testing.T, base string, image []byte) string {
	t.Helper()
	contentType, body := fixture.ImageForm("q.png", image)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/collections/live/search", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Results []struct{ ID string } `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("search: status %d, %v", resp.StatusCode, err)
	}
	if len(got.Results) == 0 {
		return ""
	}
	return got.Results[0].ID
}

// TestServeUploadDelete runs the real binary with serve.upload_dir: an
// upload is stored and found, one sent while another process holds the
// store's writer lock gets 503 store_busy, and a delete removes the item
// and its file; the store then checks clean.
func TestServeUploadDelete(t *testing.T) {
	lb := mustLiveBed(t)
	writeImages(t, filepath.Join(lb.dir, "first"), 0, 4)
	lb.ingest(t, filepath.Join(lb.dir, "first"))
	writeImages(t, filepath.Join(lb.dir, "new"), 4, 6)
	uploads := filepath.Join(lb.dir, "uploads") // made by serve
	t.Setenv("DEEPRANK_SERVE_UPLOAD_DIR", uploads)
	srv := lb.serve(t)
	images := srv.Base + "/v1/collections/live/images"

	data, id := fixture.ReadID(t, filepath.Join(lb.dir, "new", "c4", "004.png"))
	status, body, _ := postFile(t, images, data)
	if status != 201 || !strings.Contains(string(body), `"created": true`) {
		t.Fatalf("upload: %d %s; want 201 created", status, body)
	}
	if got := nearest(t, srv.Base, data); got != id {
		t.Errorf("search by the upload ranks %s first, want the upload %s", got, id)
	}

	held, err := embedded.Open(lb.store, nil) // as an ingest would
	if err != nil {
		t.Fatal(err)
	}
	other, _ := fixture.ReadID(t, filepath.Join(lb.dir, "new", "c0", "005.png"))
	status, body, h := postFile(t, images, other)
	held.Close()
	if status != 503 || !strings.Contains(string(body), "store_busy") || h.Get("Retry-After") != "5" {
		t.Errorf("upload while the writer lock is held: %d Retry-After %q %s; want 503 store_busy, Retry-After 5", status, h.Get("Retry-After"), body)
	}

	req, _ := http.NewRequest("DELETE", images+"/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("delete: status %d, want 200", resp.StatusCode)
	}
	if left, _ := os.ReadDir(uploads); len(left) != 0 {
		t.Errorf("upload folder holds %d files after the delete, want none", len(left))
	}
	srv.Stop(t)
	if out, code := runCLI(t, "check", "--store-dir", lb.store); code != 0 {
		t.Errorf("check after uploads and deletes: exit %d\n%s", code, out)
	}
}

// postFile uploads image to url as a multipart "image" file.
func postFile(t *testing.T, url string, image []byte) (int, []byte, http.Header) {
	t.Helper()
	contentType, body := fixture.ImageForm("u.png", image)
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}
