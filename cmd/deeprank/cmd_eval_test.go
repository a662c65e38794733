package main

import (
	"encoding/json"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEvalMisses: --misses lists, for the model rows, every query whose
// first hit is not relevant, as many as its Recall@1 leaves, each with
// the place of its first relevant image and the image ranked first, both
// files of the set; a file that cannot be made fails before the
// evaluation.
func TestEvalMisses(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// Each class holds a dark, a middle and a light image, and the other
	// class a near twin of each: the nearest image is often the twin, of
	// the other class.
	for i, class := range []string{"x", "y"} {
		for j, grey := range []uint8{40, 120, 200} {
			writePNG(t, filepath.Join(data, class, string(rune('a'+j))+".png"), color.Gray{Y: grey + uint8(6*i)})
		}
	}
	modelPath, _ := mustModel(t, dir, 1)
	misses := filepath.Join(dir, "misses.tsv")
	out, code := runCLI(t, "eval", "--model", modelPath, "--classes", data, "--untrained", "--json", "--misses", misses)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	var reports []struct {
		Report struct {
			Results []struct {
				Method    string
				Retrieval struct {
					Queries int
					Recall  map[string]float64 `json:"recall_at"`
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil || len(reports) != 1 {
		t.Fatalf("JSON output: %v: %s", err, out)
	}
	b, err := os.ReadFile(misses)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "set\tmodel\tquery\trank\tnearest" {
		t.Fatalf("header %q", lines[0])
	}
	perModel := map[string]int{}
	for _, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("line %q: %d fields, want 5", line, len(f))
		}
		rank, err := strconv.Atoi(f[3])
		if err != nil || rank < 2 || rank > 5 {
			t.Errorf("line %q: rank %q, want 2..5 (the first relevant image after the first hit)", line, f[3])
		}
		for _, p := range []string{f[2], f[4]} {
			if _, err := os.Stat(p); err != nil || !strings.HasPrefix(p, data) {
				t.Errorf("line %q: %q is not a file of the set: %v", line, p, err)
			}
		}
		if filepath.Dir(f[2]) == filepath.Dir(f[4]) {
			t.Errorf("line %q: the first hit is of the query's class", line)
		}
		perModel[f[1]]++
	}
	for _, r := range reports[0].Report.Results {
		want := 0
		switch r.Method {
		case "model", "untrained":
			want = int(math.Round(float64(r.Retrieval.Queries) * (1 - r.Retrieval.Recall["1"])))
		}
		if perModel[r.Method] != want {
			t.Errorf("%s: %d misses listed, want %d (R@1 %g of %d queries; baselines none)", r.Method, perModel[r.Method], want, r.Retrieval.Recall["1"], r.Retrieval.Queries)
		}
	}
	if len(lines) == 1 {
		t.Error("no misses listed: the set should make the models miss some")
	}

	out, code = runCLI(t, "eval", "--model", modelPath, "--classes", data, "--misses", filepath.Join(dir, "no", "such", "misses.tsv"))
	if code == exitOK || !strings.Contains(out, "--misses") || strings.Contains(out, "R@1") {
		t.Errorf("an unwritable --misses file: exit %d, output %q; want an error naming --misses before any report", code, out)
	}

	// An evaluation that fails after the file is made leaves none behind.
	failed := filepath.Join(dir, "failed.tsv")
	out, code = runCLI(t, "eval", "--model", modelPath, "--queries", filepath.Join(dir, "no-queries"), "--gallery", data, "--misses", failed)
	if _, err := os.Stat(failed); code == exitOK || !os.IsNotExist(err) {
		t.Errorf("a failed evaluation: exit %d, output %q, misses file: %v; want a failure and no file", code, out, err)
	}
}

// TestEvalBadRerank: eval ranks its model rows as query does, so a
// re-ranking option out of range is refused by name, before any work.
func TestEvalBadRerank(t *testing.T) {
	tests := []struct{ env, value, want string }{
		{"DEEPRANK_QUERY_RERANK_TOP", "-1", "query.rerank.top -1 is negative"},
		{"DEEPRANK_QUERY_RERANK_FLOOR", "1", "query.rerank.floor 1 must be in [-1, 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			out, code := runCLI(t, "eval", "--model", filepath.Join(t.TempDir(), "absent.drk"), "--classes", t.TempDir())
			if code != exitUsage || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, exitUsage, tc.want)
			}
		})
	}
}
