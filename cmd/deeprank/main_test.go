package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/model"
)

// runCLI runs the root command with args and returns its output and the
// exit code main would give.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString(err.Error())
	}
	return out.String(), exitCode(err)
}

func writePNG(t *testing.T, path string, c color.Gray) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 12, 12))
	for i := range img.Pix {
		img.Pix[i] = c.Y + uint8(i%7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	for i, class := range []string{"dark", "light"} {
		for j := range 3 {
			writePNG(t, filepath.Join(dir, "data", class, string(rune('a'+j))+".png"), color.Gray{Y: uint8(40 + 150*i + 10*j)})
		}
	}
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(1)
	modelPath := filepath.Join(dir, "m.drk")
	if _, err := m.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	m.Initialize(2)
	model2 := filepath.Join(dir, "m2.drk")
	if _, err := m.Save(model2); err != nil {
		t.Fatal(err)
	}
	loaded, err := model.Load(model2)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := loaded.Version()
	store := filepath.Join(dir, "store")
	badConfig := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badConfig, []byte("train:\n  epochs: \"ten\"\n"), 0o644)
	unknownKey := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknownKey, []byte("train:\n  learning_rat: 0.1\n"), 0o644)
	corrupt := filepath.Join(dir, "corrupt.drk")
	os.WriteFile(corrupt, []byte("DEEPRANK garbage"), 0o644)
	img := filepath.Join(dir, "data", "dark", "a.png")
	suite := filepath.Join(dir, "suite.yaml")
	os.WriteFile(suite, []byte("sets:\n  - {name: both, classes: "+filepath.Join(dir, "data")+"}\n  - {name: t, triplets: "+filepath.Join(dir, "t.txt")+", root: "+filepath.Join(dir, "data")+"}\n"), 0o644)
	badSuite := filepath.Join(dir, "bad-suite.yaml")
	os.WriteFile(badSuite, []byte("sets:\n  - {name: x, queries: a}\n"), 0o644)

	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"help", []string{"--help"}, exitOK, "EXIT STATUS"},
		{"triplets", []string{"triplets", "--input", filepath.Join(dir, "data"), "--pos", "2", "--neg", "1", "--out", filepath.Join(dir, "t.txt")}, exitOK, "wrote 12 triplets from 6 images in 2 classes"},
		{"eval triplet file", []string{"eval", "--model", modelPath, "--triplets", filepath.Join(dir, "t.txt"), "--root", filepath.Join(dir, "data")}, exitOK, "phash"},
		{"eval classes json", []string{"eval", "--model", modelPath, "--classes", filepath.Join(dir, "data"), "--json"}, exitOK, `"similarity_precision"`},
		{"distance to itself", []string{"distance", "--model", modelPath, "--image1", img, "--image2", img}, exitOK, "0.000000"},
		{"distance corrupt model", []string{"distance", "--model", corrupt, "--image1", img, "--image2", img}, exitFailure, "corrupt.drk"},
		{"distance missing image", []string{"distance", "--model", modelPath, "--image1", img, "--image2", filepath.Join(dir, "nope.png")}, exitFailure, "nope.png"},
		{"train config wrong type", []string{"train", "--config", badConfig}, exitUsage, "train.epochs"},
		{"train config unknown key", []string{"train", "--config", unknownKey}, exitUsage, `unknown key "train.learning_rat"`},
		{"train without data", []string{"train"}, exitUsage, "data.triplets"},
		{"query unknown collection", []string{"query", "--image", img, "--model", modelPath, "--store-dir", filepath.Join(dir, "store"), "--collection", "nope"}, exitFailure, "ingest first"},
		{"ingest then query", []string{"ingest", "--model", modelPath, "--store-dir", filepath.Join(dir, "store"), filepath.Join(dir, "data")}, exitOK, "ingested 6, skipped 0"},
		{"query finds itself", []string{"query", "--image", img, "--model", modelPath, "--store-dir", filepath.Join(dir, "store"), "--top-k", "2"}, exitOK, "1     0.0000    " + img},
		{"ingest with a broken file", []string{"ingest", "--model", modelPath, "--store-dir", filepath.Join(dir, "store"), corrupt, filepath.Join(dir, "data")}, exitPartial, "failed: " + corrupt},
		{"ingest a missing folder", []string{"ingest", "--model", modelPath, "--store-dir", filepath.Join(dir, "untouched"), "--collection", "typo", filepath.Join(dir, "phtos")}, exitUsage, "phtos not found"},
		{"no collection from a missing folder", []string{"collections", "--store-dir", filepath.Join(dir, "untouched"), "--json"}, exitOK, "[]"},
		{"ingest bad shard", []string{"ingest", "--shard", "4/4", filepath.Join(dir, "data")}, exitUsage, "--shard"},
		{"collections", []string{"collections", "--store-dir", filepath.Join(dir, "store")}, exitOK, "images  6"},
		{"reindex without model", []string{"reindex", "--store-dir", store}, exitUsage, "--model is required"},
		{"reindex to a new model", []string{"reindex", "--store-dir", store, "--model", model2}, exitOK, `switched collection "images" to model ` + v2},
		{"collections after reindex", []string{"collections", "--store-dir", store}, exitOK, v2},
		{"query with the old model", []string{"query", "--image", img, "--model", modelPath, "--store-dir", store}, exitFailure, "model mismatch"},
		{"query with the new model", []string{"query", "--image", img, "--model", model2, "--store-dir", store, "--top-k", "1"}, exitOK, "1     0.0000    " + img},
		{"reindex again is a no-op", []string{"reindex", "--store-dir", store, "--model", model2}, exitOK, "nothing to do"},
		{"milvus unreachable", []string{"collections", "--store", "milvus", "--milvus-address", "127.0.0.1:9"}, exitFailure, "milvus is unreachable"},
		{"config show from env", []string{"config", "show"}, exitOK, "env DEEPRANK_QUERY_TOP_K"},
		{"eval without set", []string{"eval", "--model", modelPath}, exitUsage, "give one of --classes, --queries with --gallery"},
		{"eval queries against gallery", []string{"eval", "--model", modelPath, "--queries", filepath.Join(dir, "data"), "--gallery", filepath.Join(dir, "data"), "--untrained"}, exitOK, "untrained"},
		{"eval suite markdown", []string{"eval", "--model", modelPath, "--suite", suite, "--markdown"}, exitOK, "### both\n\n| method | sim. precision | R@1 |"},
		{"eval bad suite", []string{"eval", "--model", modelPath, "--suite", badSuite}, exitUsage, `sets[0] ("x")`},
	}
	t.Setenv("DEEPRANK_QUERY_TOP_K", "7")
	t.Setenv("DEEPRANK_STORE_MILVUS_CONNECT_TIMEOUT", "2s")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output:\n%s\nwant it to contain %q", code, tc.wantCode, out, tc.want)
			}
		})
	}
}

// mustModel saves a small model of random weights drawn from seed and
// returns its path and version.
func mustModel(t *testing.T, dir string, seed uint64) (string, string) {
	t.Helper()
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(seed)
	p := filepath.Join(dir, fmt.Sprintf("m%d.drk", seed))
	v, err := m.Save(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

// TestMovedCopies: when the stored copy of a picture is deleted and
// another copy lives on, reindex embeds the copy (it used to stop, the
// image "gone") and ingest records the copy's path.
func TestMovedCopies(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data", "a")
	first := filepath.Join(data, "x.png")
	writePNG(t, first, color.Gray{Y: 40})
	writePNG(t, filepath.Join(data, "y.png"), color.Gray{Y: 200})
	picture, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	move := func(from, to string) func() {
		return func() {
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, picture, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(from); err != nil {
				t.Fatal(err)
			}
		}
	}
	model1, _ := mustModel(t, dir, 1)
	model2, v2 := mustModel(t, dir, 2)
	store := filepath.Join(dir, "store")
	copied := filepath.Join(data, "sub", "copy.png")
	again := filepath.Join(data, "again.png")
	steps := []struct {
		name     string
		before   func()
		args     []string
		wantCode int
		want     []string
	}{
		{"ingest", func() {}, []string{"ingest", "--model", model1, "--store-dir", store, data}, exitOK,
			[]string{"ingested 2, skipped 0 (already stored), failed 0"}},
		{"reindex after a move", move(first, copied), []string{"reindex", "--model", model2, "--store-dir", store}, exitOK,
			[]string{first + " is gone: embedding the copy at " + copied, `switched collection "images" to model ` + v2}},
		{"the copy is found", func() {}, []string{"query", "--image", copied, "--model", model2, "--store-dir", store, "--top-k", "1"}, exitOK,
			[]string{"1     0.0000    " + copied}},
		{"ingest after another move", move(copied, again), []string{"ingest", "--model", model2, "--store-dir", store, data}, exitOK,
			[]string{"ingested 0, skipped 1 (already stored), updated 1 moved path, failed 0"}},
		{"the new path is stored", func() {}, []string{"query", "--image", again, "--model", model2, "--store-dir", store, "--top-k", "1"}, exitOK,
			[]string{"1     0.0000    " + again}},
	}
	for _, st := range steps {
		st.before()
		out, code := runCLI(t, st.args...)
		for _, w := range st.want {
			if code != st.wantCode || !strings.Contains(out, w) {
				t.Fatalf("%s: exit %d (want %d), output:\n%s\nwant it to contain %q", st.name, code, st.wantCode, out, w)
			}
		}
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, exitOK},
		{"interrupted ingest", &ingest.Interrupted{Stored: 3, Err: context.Canceled}, exitInterrupted},
		{"interrupted elsewhere", fmt.Errorf("reindex: %w", context.Canceled), exitInterrupted},
		{"partial", errPartial, exitPartial},
		{"usage", usagef("bad"), exitUsage},
		{"failure", errors.New("store down"), exitFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
