package main

import (
	"context"
	"encoding/base64"
	"flag"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/deeprank/deeprank/internal/fixture"
)

// screenshotTo names a file for TestServeBrowser to write its screenshot
// to besides the test's folder: how the README's docs/serve.png is made
// (the README's Serve section gives the command).
var screenshotTo = flag.String("screenshot", "", "TestServeBrowser also writes its screenshot of a search to this PNG file")

// browserSampleFolders are the folders of data/sample the browser test
// ingests: enough photos for a full grid, few enough for a fast ingest.
var browserSampleFolders = []string{"beach", "sea", "mountain", "fog", "snow"}

// needBrowser returns the path of Chromium and the sample photos folder,
// or skips the test saying what is missing; with DEEPRANK_REQUIRE_BROWSER=1
// (as in CI) it fails instead. -short skips it.
func needBrowser(t *testing.T) (chromium, sample string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary and Chromium")
	}
	missing := func(what string) {
		if os.Getenv("DEEPRANK_REQUIRE_BROWSER") == "1" {
			t.Fatalf("%s, and DEEPRANK_REQUIRE_BROWSER=1 says the browser test must run", what)
		}
		t.Skip(what)
	}
	chromium = os.Getenv("DEEPRANK_CHROMIUM")
	if chromium == "" {
		var err error
		if chromium, err = exec.LookPath("chromium"); err != nil {
			missing("no Chromium: install Debian's chromium (scripts/chromium.sh) or set DEEPRANK_CHROMIUM")
		}
	}
	sample, err := sampleFolder()
	if err != nil {
		missing(err.Error())
	}
	return chromium, sample
}

// hit is a result as the page's grid shows it.
type hit struct {
	ID       string  `json:"id"`
	Distance float64 `json:"distance"`
}

// gridJS is a page expression giving the grid's results, or false while
// it is empty.
const gridJS = `(() => {
	const li = [...document.querySelectorAll("#results li")];
	return li.length > 0 && li.map((e) => ({id: e.dataset.id, distance: Number(e.dataset.distance)}));
})()`

// TestServeBrowser drives the page of the real binary in headless
// Chromium, over a store of sample photos with the default model: it
// uploads a photo through the file input, waits for the grid, checks that
// the photo comes first at distance 0 with its thumbnail shown, then clicks
// the second result and checks that a search by it ran (the URL names it,
// the grid is redrawn with it first), then drops and pastes other photos.
// It saves a screenshot of the first search in the test's folder (and to
// -screenshot FILE when given).
func TestServeBrowser(t *testing.T) {
	chromium, sample := needBrowser(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	store := filepath.Join(dir, "store")
	args := []string{"ingest", "--collection", "sample", "--store-dir", store}
	for _, f := range browserSampleFolders {
		args = append(args, filepath.Join(sample, f))
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	srv := fixture.StartServe(t, bin, "--store-dir", store)

	photo := filepath.Join(sample, "beach", "beach3.jpg")
	_, photoID := fixture.ReadID(t, photo)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // Chromium's sandbox refuses to run as root, as CI does
	)...)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// The first run starts the browser, which lives as long as its context:
	// no timeout on that one. It asks for five results in the URL, as a
	// shared search would: one row of the grid, all of it in the screenshot.
	if err := chromedp.Do(browser, chromedp.EmulateViewport(960, 700), chromedp.Navigate(srv.Base+"/?k=5")); err != nil {
		t.Fatalf("start Chromium and load the page: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	began := time.Now()
	// failed says why a wait failed, with what the page shows.
	failed := func(what string, err error) {
		t.Helper()
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		t.Fatalf("waiting for %s: %v (the page says %q)", what, err, status)
	}
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			failed(what, err)
		}
	}
	grid := func() []hit {
		t.Helper()
		hits, err := chromedp.Run(ctx, chromedp.Poll[[]hit](gridJS, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			failed("the results", err)
		}
		return hits
	}

	wait("the collections", `document.getElementById("collection").value === "sample"`)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{photo})); err != nil {
		t.Fatalf("upload %s through the file input: %v", photo, err)
	}
	hits := grid()
	if len(hits) != 5 || hits[0].ID != photoID || hits[0].Distance > 1e-4 {
		t.Fatalf("grid %+v; want 5 results, %s first at distance 0", hits, filepath.Base(photo))
	}
	// The browser fetched the thumbnails through the API and could decode
	// them.
	wait("the thumbnails", `[...document.querySelectorAll("#results img")].every((i) => i.complete && i.naturalWidth > 0)`)
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	for _, path := range []string{filepath.Join(t.TempDir(), "serve.png"), *screenshotTo} {
		if path == "" {
			continue
		}
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	}

	second := hits[1]
	if second.ID == photoID {
		t.Fatalf("the test proves nothing: the second result is the uploaded photo again: %+v", hits)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#results li:nth-child(2) button.hit"))); err != nil {
		t.Fatalf("click the second result: %v", err)
	}
	wait("a search by the clicked result", `document.querySelector("#results li").dataset.id === "`+second.ID+`"`)
	if hits := grid(); hits[0].Distance > 1e-4 {
		t.Errorf("search by a stored image: %+v; want it first at distance 0", hits[0])
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "id="+second.ID) || !strings.Contains(loc, "c=sample") {
		t.Errorf("the URL after the click is %s; want the collection and the clicked id in it", loc)
	}

	// Dropping and pasting an image: the events the browser sends, with the
	// file in their DataTransfer, dispatched where the page listens.
	for _, tc := range []struct{ how, photo, dispatch string }{
		{"dropped", "sea/sea1.jpg", `document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}))`},
		{"pasted", "fog/fog0.jpg", `document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true}))`},
	} {
		data, id := fixture.ReadID(t, filepath.Join(sample, filepath.FromSlash(tc.photo)))
		js := `(() => {
			const bytes = Uint8Array.from(atob("` + base64.StdEncoding.EncodeToString(data) + `"), (c) => c.charCodeAt(0));
			const dt = new DataTransfer();
			dt.items.add(new File([bytes], "` + path.Base(tc.photo) + `", {type: "image/jpeg"}));
			` + tc.dispatch + `;
		})()`
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
			t.Fatalf("%s %s: %v", tc.how, tc.photo, err)
		}
		wait("a search by the "+tc.how+" "+tc.photo, `document.querySelector("#results li").dataset.id === "`+id+`"`)
		if hits := grid(); hits[0].Distance > 1e-4 {
			t.Errorf("search by the %s %s: %+v; want it first at distance 0", tc.how, tc.photo, hits[0])
		}
	}
	t.Logf("upload, grid, click, drop and paste in %s", time.Since(began).Round(time.Millisecond))
	log := srv.Stop(t)
	for _, want := range []string{"POST /v1/collections/sample/search 200", "/thumbnail 200"} {
		if !strings.Contains(log, want) {
			t.Errorf("the request log lacks %q:\n%s", want, log)
		}
	}
}
