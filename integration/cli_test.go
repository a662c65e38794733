package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// cli builds the deeprank binary once per test run.
func cli(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deeprank-integration-*")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "deeprank")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/deeprank").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build deeprank: %v", buildErr)
	}
	return binPath
}

// run runs the CLI with args and extra environment and returns its output
// (stdout and stderr) and exit code.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(cli(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("run deeprank %v: %v", args, err)
	return "", 0
}

// samplePhotos is the quickstart's folder of real photos, which
// scripts/fetch-sample.sh fetches (the test skips without it, or fails
// under fixture.RequireDataEnv).
func samplePhotos(t *testing.T) (dir string, files []string) {
	t.Helper()
	dir = fixture.RequireData(t, "../data/sample", "scripts/fetch-sample.sh")
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && imageio.IsImageName(p) {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 50 {
		t.Fatalf("%s holds %d photos; remove it and run scripts/fetch-sample.sh", dir, len(files))
	}
	return dir, files
}

// otherModel writes an untrained model of the default spec: a second model
// version to reindex to.
func otherModel(t *testing.T) (path, version string) {
	t.Helper()
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(7)
	path = filepath.Join(t.TempDir(), "other.drk")
	if _, err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	version, err = m.Version()
	if err != nil {
		t.Fatal(err)
	}
	return path, version
}

func expect(t *testing.T, what, out string, code, wantCode int, want string) {
	t.Helper()
	if code != wantCode || !strings.Contains(out, want) {
		t.Fatalf("%s: exit %d (want %d), output:\n%s\nwant it to contain %q", what, code, wantCode, out, want)
	}
}

// topHit matches the first result line of a query, for the query image.
func topHit(path string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^1 +0\.0000 +` + regexp.QuoteMeta(path) + `$`)
}

// TestCLI runs the README's commands against Milvus: ingest a folder of
// real photos, query, ingest again (nothing new), reindex to another model,
// query with it.
func TestCLI(t *testing.T) {
	photos, files := samplePhotos(t) // before the container, which it may skip
	srv := startMilvus(t)
	srv.announce(t)
	query := filepath.Join(photos, "beach", "beach3.jpg")
	env := []string{"DEEPRANK_STORE_KIND=milvus", "DEEPRANK_STORE_MILVUS_ADDRESS=" + srv.address(t)}

	out, code := run(t, env, "ingest", "--collection", "photos", photos)
	expect(t, "ingest", out, code, 0, "failed 0")
	if !regexp.MustCompile(`ingested \d+, skipped \d+ \(already stored\), failed 0 \(` + itoa(len(files)) + ` image files`).MatchString(out) {
		t.Fatalf("ingest summary:\n%s", out)
	}
	out, code = run(t, env, "query", "--collection", "photos", "--image", query, "--top-k", "3")
	if code != 0 || !topHit(query).MatchString(out) {
		t.Fatalf("query: exit %d, the photo is not its own top hit:\n%s", code, out)
	}
	out, code = run(t, env, "ingest", "--collection", "photos", photos)
	expect(t, "ingest again", out, code, 0, "ingested 0, skipped "+itoa(len(files)))

	newModel, version := otherModel(t)
	out, code = run(t, env, "reindex", "--collection", "photos", "--model", newModel)
	expect(t, "reindex", out, code, 0, `switched collection "photos" to model `+version)
	out, code = run(t, env, "collections", "describe", "photos")
	expect(t, "describe after reindex", out, code, 0, version)
	if !strings.Contains(out, " "+itoa(len(files))+" ") {
		t.Fatalf("describe after reindex: want %d items:\n%s", len(files), out)
	}
	out, code = run(t, env, "query", "--collection", "photos", "--image", query, "--model", newModel)
	if code != 0 || !topHit(query).MatchString(out) {
		t.Fatalf("query with the new model: exit %d:\n%s", code, out)
	}
	out, code = run(t, env, "query", "--collection", "photos", "--image", query)
	expect(t, "query with the old model", out, code, 1, "model mismatch")
	out, code = run(t, env, "collections")
	expect(t, "list", out, code, 0, "photos")
	if strings.Count(out, "photos") != 1 {
		t.Fatalf("list shows the collection more than once after reindex:\n%s", out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
