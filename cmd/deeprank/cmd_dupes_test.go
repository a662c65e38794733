package main

import (
	"encoding/csv"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// TestDupesCLI runs dupes over a few images: two near-identical (one grey
// level apart), one far. It checks the flags' paths through the command:
// the threshold a collection of another model needs (by flag or by the
// configuration file), each output format, --out, --link-dir, and
// decisions from arguments and from a file.
func TestDupesCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writePNG(t, filepath.Join(data, "a.png"), color.Gray{Y: 100})
	writePNG(t, filepath.Join(data, "b.png"), color.Gray{Y: 101})
	writePNG(t, filepath.Join(data, "far.png"), color.Gray{Y: 0})
	m, _ := mustModel(t, dir, 1)
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m, "--store-dir", store, "--collection", "c", data); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	// The near pair's distance, for a threshold between it and the far one.
	out, code := runCLI(t, "distance", "--model", m, "--image1", filepath.Join(data, "a.png"), "--image2", filepath.Join(data, "b.png"))
	if code != exitOK {
		t.Fatalf("distance: %s", out)
	}
	base := []string{"dupes", "--store-dir", store, "--collection", "c"}
	dupesCmd := func(args ...string) (string, string, int) {
		return runCLIStreams(t, append(append([]string{}, base...), args...)...)
	}
	if _, stderr, code := dupesCmd(); code != exitUsage || !strings.Contains(stderr, "give --max-distance") {
		t.Fatalf("no --max-distance on a collection of another model: exit %d, %s; want a usage error asking for it", code, stderr)
	}
	near := "--max-distance=" + strings.TrimSpace(out) + "1" // a hair over the pair's distance
	stdout, stderr, code := dupesCmd(near)
	if code != exitOK || strings.Count(stdout, "group ") != 1 || !strings.Contains(stdout, "a.png") || !strings.Contains(stdout, "b.png") || strings.Contains(stdout, "far.png") {
		t.Fatalf("dupes: exit %d\n%s%s\nwant one group of a.png and b.png", code, stdout, stderr)
	}
	// The same threshold from the configuration file, as for a model used
	// often: dupes.max_distance stands in for the flag.
	conf := filepath.Join(dir, "deeprank.yaml")
	if err := os.WriteFile(conf, []byte("dupes:\n  max_distance: "+strings.TrimPrefix(near, "--max-distance=")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := dupesCmd("--config", conf); code != exitOK || strings.Count(stdout, "group ") != 1 {
		t.Fatalf("dupes.max_distance in the configuration file: exit %d\n%s%s\nwant the one group --max-distance gives", code, stdout, stderr)
	}
	report := filepath.Join(dir, "dupes.csv")
	links := filepath.Join(dir, "review")
	if _, stderr, code := dupesCmd(near, "--csv", "--out", report, "--link-dir", links); code != exitOK {
		t.Fatalf("--csv --out --link-dir: exit %d: %s", code, stderr)
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 3 || rows[0][2] != "id" || rows[1][1] != "true" || rows[2][1] != "false" {
		t.Fatalf("CSV %v, %v: want a header and two members, the first the keeper", rows, err)
	}
	if got, _ := filepath.Glob(filepath.Join(links, "group-0001", "*")); len(got) != 2 {
		t.Errorf("links %v, want two", got)
	}
	// Marking the pair distinct: a typo is refused, the pair is recorded
	// once, and then there is no group.
	a, b := rows[1][2], rows[2][2]
	if _, stderr, code := dupesCmd("--not-duplicate", a, strings.Repeat("0", 64)); code != exitUsage || !strings.Contains(stderr, "not in the collection") {
		t.Errorf("--not-duplicate with an unknown ID: exit %d, %s", code, stderr)
	}
	pairs := filepath.Join(dir, "pairs.txt")
	if err := os.WriteFile(pairs, []byte("# reviewed\n"+b+" "+a+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, args := range [][]string{{"--not-duplicate", a, b}, {"--not-duplicate-file", pairs}} {
		want := []string{"recorded 1 new distinct pairs (1 in all)", "recorded 0 new distinct pairs (1 in all)"}[i]
		if stdout, stderr, code := dupesCmd(args...); code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("%v: exit %d, %s%s; want %q", args, code, stdout, stderr, want)
		}
	}
	if _, err := os.Stat(filepath.Join(store, "c.not-duplicates")); err != nil {
		t.Errorf("the decisions file is not beside the collection: %v", err)
	}
	if stdout, stderr, code := dupesCmd(near); code != exitOK || strings.Contains(stdout, "group") || !strings.Contains(stderr, "1 marked distinct left out") {
		t.Errorf("after --not-duplicate: exit %d\n%s%s\nwant no group", code, stdout, stderr)
	}
	for _, args := range [][]string{{near, "--json", "--csv"}, {"--not-duplicate", a}, {near, "extra"}} {
		if _, _, code := dupesCmd(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestDupesUnrecordedLearned: a collection of the built-in model that does
// not record its learned part (made before collections recorded it) gets
// no default threshold, which is calibrated on learned parts: dupes says
// to reindex it.
func TestDupesUnrecordedLearned(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	s, err := embedded.Open(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := defaultModelSpec(t)
	if spec.Learned == 0 {
		t.Fatal("the built-in model has no thumbnail: the test proves nothing")
	}
	spec.Learned = 0
	if err := s.Create(t.Context(), "c", spec); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLIStreams(t, "dupes", "--store-dir", store, "--collection", "c"); code == exitOK || !strings.Contains(stderr, "deeprank reindex --collection c") {
		t.Errorf("dupes on a collection without its learned part: exit %d, %s; want an error saying to reindex", code, stderr)
	}
}
