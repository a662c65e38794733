package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/server"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// runCLI runs the root command with args and returns its output (stdout
// and stderr together, then the error main would print) and the exit code
// main would give.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	stdout, stderr, code := runCLIStreams(t, args...)
	return stdout + stderr, code
}

// runCLIStreams is runCLI with stdout and stderr apart; the error main
// would print ends stderr.
func runCLIStreams(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), exitCode(err)
}

// mustModel saves a default-spec model initialised with seed under dir and
// returns its path and version.
func mustModel(t *testing.T, dir string, seed uint64) (path, version string) {
	t.Helper()
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(seed)
	path = filepath.Join(dir, fmt.Sprintf("m%d.drk", seed))
	if version, err = m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, version
}

// mustVariantsModel saves the model at path with a grey variant and one
// centre crop, beside it, and returns its path and version.
func mustVariantsModel(t *testing.T, path string) (string, string) {
	t.Helper()
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m.Spec.Variants = &model.Variants{Grey: true, Crops: []model.CropGrid{{Grid: 1, Side: 0.6}}}
	path = strings.TrimSuffix(path, ".drk") + "-variants.drk"
	version, err := m.Save(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, version
}

func writePNG(t *testing.T, path string, c color.Gray) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 12, 12))
	for i := range img.Pix {
		img.Pix[i] = c.Y + uint8(i%7)
	}
	fixture.WritePNG(t, path, img)
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	for i, class := range []string{"dark", "light"} {
		for j := range 3 {
			writePNG(t, filepath.Join(dir, "data", class, string(rune('a'+j))+".png"), color.Gray{Y: uint8(40 + 150*i + 10*j)})
		}
	}
	modelPath, _ := mustModel(t, dir, 1)
	model2, v2 := mustModel(t, dir, 2)
	withVariants, v3 := mustVariantsModel(t, model2)
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

	// Each case runs alone (go test -run 'TestCLI/NAME' works): the
	// commands of before run first, and the word STORE in any argument is
	// the case's own new store folder.
	const st = "STORE"
	ingest1 := []string{"ingest", "--model", modelPath, "--store-dir", st, filepath.Join(dir, "data")}
	reindex2 := []string{"reindex", "--store-dir", st, "--model", model2}
	reindex3 := []string{"reindex", "--store-dir", st, "--model", withVariants}
	ownOnly := filepath.Join(dir, "own-only.yaml")
	os.WriteFile(ownOnly, []byte("ingest:\n  variants: false\n"), 0o644)
	triplets := filepath.Join(dir, "t.txt")
	if out, code := runCLI(t, "triplets", "--input", filepath.Join(dir, "data"), "--pos", "2", "--neg", "1", "--out", triplets); code != exitOK {
		t.Fatalf("triplets: exit %d: %s", code, out)
	}
	cases := []struct {
		name     string
		before   [][]string
		args     []string
		wantCode int
		want     string
	}{
		{"help", nil, []string{"--help"}, exitOK, "EXIT STATUS"},
		{"triplets", nil, []string{"triplets", "--input", filepath.Join(dir, "data"), "--pos", "2", "--neg", "1", "--out", filepath.Join(dir, "t2.txt")}, exitOK, "wrote 12 triplets from 6 images in 2 classes"},
		{"eval triplet file", nil, []string{"eval", "--model", modelPath, "--triplets", triplets, "--root", filepath.Join(dir, "data")}, exitOK, "phash"},
		{"eval classes json", nil, []string{"eval", "--model", modelPath, "--classes", filepath.Join(dir, "data"), "--json"}, exitOK, `"similarity_precision"`},
		{"distance to itself", nil, []string{"distance", "--model", modelPath, "--image1", img, "--image2", img}, exitOK, "0.000000"},
		{"distance without a model", nil, []string{"distance", "--image1", img, "--image2", img}, exitUsage, "--model (key model, env DEEPRANK_MODEL)"},
		{"distance corrupt model", nil, []string{"distance", "--model", corrupt, "--image1", img, "--image2", img}, exitFailure, "corrupt.drk"},
		{"distance missing image", nil, []string{"distance", "--model", modelPath, "--image1", img, "--image2", filepath.Join(dir, "nope.png")}, exitFailure, "nope.png"},
		{"train config wrong type", nil, []string{"train", "--config", badConfig}, exitUsage, "train.epochs"},
		{"train config unknown key", nil, []string{"train", "--config", unknownKey}, exitUsage, `unknown key "train.learning_rat"`},
		{"train without data", nil, []string{"train"}, exitUsage, "data.triplets"},
		{"query unknown collection", nil, []string{"query", "--image", img, "--model", modelPath, "--store-dir", st, "--collection", "nope"}, exitFailure, "ingest first"},
		{"ingest", nil, ingest1, exitOK, "ingested 6, skipped 0"},
		{"query finds itself", [][]string{ingest1}, []string{"query", "--image", img, "--model", modelPath, "--store-dir", st, "--top-k", "2"}, exitOK, "1     0.0000    " + img},
		{"ingest with a broken file", [][]string{ingest1}, []string{"ingest", "--model", modelPath, "--store-dir", st, corrupt, filepath.Join(dir, "data")}, exitPartial, "failed: " + corrupt},
		{"ingest a missing folder", nil, []string{"ingest", "--model", modelPath, "--store-dir", st, "--collection", "typo", filepath.Join(dir, "phtos")}, exitUsage, "phtos not found"},
		{"no collection from a missing folder", [][]string{{"ingest", "--model", modelPath, "--store-dir", st, "--collection", "typo", filepath.Join(dir, "phtos")}},
			[]string{"collections", "--store-dir", st, "--json"}, exitOK, "[]"},
		{"ingest bad shard", nil, []string{"ingest", "--shard", "4/4", filepath.Join(dir, "data")}, exitUsage, "--shard"},
		{"collections", [][]string{ingest1}, []string{"collections", "--store-dir", st}, exitOK, "images  6"},
		{"reindex without model", [][]string{ingest1}, []string{"reindex", "--store-dir", st}, exitUsage, "--model is required"},
		{"reindex to a new model", [][]string{ingest1}, reindex2, exitOK, `switched collection "images" to model ` + v2},
		{"collections after reindex", [][]string{ingest1, reindex2}, []string{"collections", "--store-dir", st}, exitOK, v2},
		{"query with the old model", [][]string{ingest1, reindex2}, []string{"query", "--image", img, "--model", modelPath, "--store-dir", st}, exitFailure, "model mismatch"},
		{"query with the new model", [][]string{ingest1, reindex2}, []string{"query", "--image", img, "--model", model2, "--store-dir", st, "--top-k", "1"}, exitOK, "1     0.0000    " + img},
		{"reindex again is a no-op", [][]string{ingest1, reindex2}, reindex2, exitOK, "nothing to do"},
		{"reindex to a model with variants", [][]string{ingest1}, reindex3, exitOK, `switched collection "images" to model ` + v3},
		{"collections of variants", [][]string{ingest1, reindex3}, []string{"collections", "--store-dir", st}, exitOK, "images  6      128  3              L2      " + v3},
		{"query finds itself among variants", [][]string{ingest1, reindex3}, []string{"query", "--image", img, "--model", withVariants, "--store-dir", st, "--top-k", "1"}, exitOK, "1     0.0000    " + img},
		{"ingest with variants", nil, []string{"ingest", "--model", withVariants, "--store-dir", st, filepath.Join(dir, "data")}, exitOK, "ingested 6, skipped 0"},
		{"ingest own vectors only", nil, []string{"ingest", "--config", ownOnly, "--model", withVariants, "--store-dir", st, filepath.Join(dir, "data")}, exitOK, "ingested 6, skipped 0"},
		{"collections of own vectors", [][]string{{"ingest", "--config", ownOnly, "--model", withVariants, "--store-dir", st, filepath.Join(dir, "data")}}, []string{"collections", "--store-dir", st}, exitOK, "images  6      128  1              L2      " + v3},
		{"ingest own vectors into variants", [][]string{ingest1, reindex3}, []string{"ingest", "--config", ownOnly, "--model", withVariants, "--store-dir", st, filepath.Join(dir, "data")}, exitFailure, "the collection stores 3 vectors an image, this ingest 1 (ingest.variants): set ingest.variants to true"},
		{"dupes among variants", [][]string{ingest1, reindex3}, []string{"dupes", "--store-dir", st, "--max-distance", "0.0001"}, exitOK, "0 groups of near-duplicates among 6 images"},
		{"milvus unreachable", nil, []string{"collections", "--store", "milvus", "--milvus-address", "127.0.0.1:9"}, exitFailure, "milvus is unreachable"},
		{"config show from env", nil, []string{"config", "show"}, exitOK, "env DEEPRANK_QUERY_TOP_K"},
		{"eval without set", nil, []string{"eval", "--model", modelPath}, exitUsage, "give one of --classes, --queries with --gallery"},
		{"eval queries against gallery", nil, []string{"eval", "--model", modelPath, "--queries", filepath.Join(dir, "data"), "--gallery", filepath.Join(dir, "data"), "--untrained"}, exitOK, "untrained"},
		{"eval suite markdown", nil, []string{"eval", "--model", modelPath, "--suite", suite, "--markdown"}, exitOK, "### both\n\n| method | sim. precision | R@1 |"},
		{"eval bad suite", nil, []string{"eval", "--model", modelPath, "--suite", badSuite}, exitUsage, `sets[0] ("x")`},
	}
	t.Setenv("DEEPRANK_QUERY_TOP_K", "7")
	t.Setenv("DEEPRANK_STORE_MILVUS_CONNECT_TIMEOUT", "2s")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			withStore := func(args []string) []string {
				out := slices.Clone(args)
				for i, a := range out {
					if a == st {
						out[i] = store
					}
				}
				return out
			}
			for _, b := range tc.before {
				if out, code := runCLI(t, withStore(b)...); code != exitOK && code != exitUsage {
					t.Fatalf("before: %v: exit %d: %s", b, code, out)
				}
			}
			out, code := runCLI(t, withStore(tc.args)...)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output:\n%s\nwant it to contain %q", code, tc.wantCode, out, tc.want)
			}
		})
	}
}

// TestUsageErrors runs the CLI over every kind of mistake in how it is
// called: each must exit 2 (not cobra's 1) with a message saying what was
// wrong, and an invalid collection name must say the naming rule before
// any store is opened.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "untouched")
	const rule = "use a letter or _, then letters, digits or _, at most 255 characters"
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"no command shows help", nil, exitOK, "EXIT STATUS"},
		{"group alone shows help", []string{"config"}, exitOK, "deeprank config [command]"},
		{"unknown flag", []string{"query", "--bogus"}, exitUsage, "unknown flag: --bogus; see 'deeprank query --help'"},
		{"unknown root flag", []string{"--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"unknown shorthand", []string{"ingest", "-z", dir}, exitUsage, "unknown shorthand flag: 'z'"},
		{"bad flag value", []string{"query", "--top-k", "ten"}, exitUsage, `invalid argument "ten" for "--top-k" flag`},
		{"bad bool value", []string{"ingest", "--json=maybe", dir}, exitUsage, `"--json" flag`},
		{"too few arguments", []string{"ingest"}, exitUsage, "requires at least 1 arg(s)"},
		{"too many arguments", []string{"collections", "describe", "a", "b"}, exitUsage, "accepts between 0 and 2 arg(s), received 3"},
		{"argument to a command that takes none", []string{"query", "stray"}, exitUsage, `"stray"`},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate" for "deeprank"`},
		{"unknown command suggests", []string{"ingst"}, exitUsage, "did you mean ingest?"},
		{"unknown subcommand", []string{"config", "shw"}, exitUsage, `unknown command "shw" for "deeprank config" (did you mean show?)`},
		{"unknown completion shell", []string{"completion", "cmd.exe"}, exitUsage, `unknown command "cmd.exe"`},
		{"help on a command", []string{"help", "query"}, exitOK, "--filter restricts the search"},
		{"help on a subcommand", []string{"help", "config", "show"}, exitOK, "never in clear"},
		{"help on an unknown command", []string{"help", "frobnicate"}, exitUsage, `help: unknown command "frobnicate"`},
		{"help on an unknown subcommand", []string{"help", "config", "shw"}, exitUsage, `help: unknown command "config shw"`},
		{"ingest invalid name", []string{"ingest", "--store-dir", store, "--collection", "my-photos", dir}, exitUsage, `--collection "my-photos" is not a valid collection name: ` + rule},
		{"query invalid name", []string{"query", "--store-dir", store, "--image", "x.jpg", "--collection", "2024"}, exitUsage, rule},
		{"reindex invalid name", []string{"reindex", "--store-dir", store, "--collection", "a b"}, exitUsage, rule},
		{"describe invalid name", []string{"collections", "describe", "--store-dir", store, "x.y"}, exitUsage, `collections describe "x.y" is not a valid collection name`},
		{"drop name too long", []string{"collections", "drop", "--store-dir", store, strings.Repeat("a", 256)}, exitUsage, rule},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output:\n%s\nwant it to contain %q", code, tc.wantCode, out, tc.want)
			}
		})
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("a usage error touched the store %s (stat: %v)", store, err)
	}
}

// TestReindexJSON checks that with --json stdout holds exactly one JSON
// document, for a reindex and for one with nothing to do, while the
// sentences still reach stderr.
func TestReindexJSON(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "data", "c", "a.png"), color.Gray{Y: 60})
	writePNG(t, filepath.Join(dir, "data", "c", "b.png"), color.Gray{Y: 160})
	m1, _ := mustModel(t, dir, 1)
	m2, v2 := mustModel(t, dir, 2)
	store := filepath.Join(dir, "store")
	if out, code := runCLI(t, "ingest", "--model", m1, "--store-dir", store, filepath.Join(dir, "data")); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, out)
	}
	cases := []struct {
		name         string
		wantIngested int
		wantStderr   string
	}{
		{"reindex", 2, `switched collection "images" to model ` + v2},
		{"nothing to do", 0, "nothing to do"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLIStreams(t, "reindex", "--json", "--store-dir", store, "--model", m2)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			dec := json.NewDecoder(strings.NewReader(stdout))
			var sum ingest.Summary
			if err := dec.Decode(&sum); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
			}
			if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
				t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
			}
			if sum.Ingested != tc.wantIngested {
				t.Errorf("ingested %d, want %d", sum.Ingested, tc.wantIngested)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

// TestConfigShowRedacts checks that config show never prints a Milvus
// password or token, in text or JSON, from the environment or a file, and
// still tells a set secret from an unset one.
func TestConfigShowRedacts(t *testing.T) {
	const password, token = "hunter2-secret", "root:tok-secret"
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("store:\n  milvus:\n    token: "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		password string // in DEEPRANK_STORE_MILVUS_PASSWORD, or ""
		args     []string
		json     bool
		want     map[string]string // key: value shown
	}{
		{"text from env", password, []string{"config", "show"}, false,
			map[string]string{"store.milvus.password": "****", "store.milvus.token": ""}},
		{"text from file", "", []string{"config", "show", "--config", file}, false,
			map[string]string{"store.milvus.password": "", "store.milvus.token": "****"}},
		{"json from env and file", password, []string{"config", "show", "--json", "--config", file}, true,
			map[string]string{"store.milvus.password": "****", "store.milvus.token": "****"}},
		{"json unset", "", []string{"config", "show", "--json"}, true,
			map[string]string{"store.milvus.password": "", "store.milvus.token": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.password != "" {
				t.Setenv("DEEPRANK_STORE_MILVUS_PASSWORD", tc.password)
			}
			out, code := runCLI(t, tc.args...)
			if code != exitOK || strings.Contains(out, password) || strings.Contains(out, token) {
				t.Fatalf("exit %d, or a secret in clear:\n%s", code, out)
			}
			shown := map[string]string{}
			if tc.json {
				var doc struct {
					Keys []struct {
						Key   string `json:"key"`
						Value any    `json:"value"`
					} `json:"keys"`
				}
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				for _, e := range doc.Keys {
					if v, ok := e.Value.(string); ok {
						shown[e.Key] = v
					}
				}
			} else {
				for _, line := range strings.Split(out, "\n") {
					if f := strings.Fields(line); len(f) >= 2 {
						var v string
						if json.Unmarshal([]byte(f[1]), &v) == nil {
							shown[f[0]] = v
						}
					}
				}
			}
			for k, want := range tc.want {
				if got, ok := shown[k]; !ok || got != want {
					t.Errorf("%s shown as %q (listed: %t), want %q; output:\n%s", k, got, ok, want, out)
				}
			}
		})
	}
}

// TestTrainCheckpointFlags checks that train will not overwrite an earlier
// run's checkpoint unless told which to do: --resume goes on with it (here
// it fails, as the checkpoint is not one), --restart replaces it. (The
// trainer's TestTrainStart covers the same on trainer.Train.)
func TestTrainCheckpointFlags(t *testing.T) {
	dir := t.TempDir()
	for i, class := range []string{"dark", "light"} {
		for j := range 3 {
			writePNG(t, filepath.Join(dir, "data", class, fmt.Sprint(j, ".png")), color.Gray{Y: uint8(40 + 150*i + 10*j)})
		}
	}
	run := filepath.Join(dir, "run")
	checkpoint := filepath.Join(run, "checkpoint.drc")
	const earlier = "an earlier run"
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(checkpoint, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "train.yaml")
	if err := os.WriteFile(cfg, []byte("train:\n  data:\n    classes: "+filepath.Join(dir, "data")+
		"\n  epochs: 1\n  steps_per_epoch: 1\n  batch_size: 2\n  output: "+filepath.Join(dir, "m.drk")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// In order: the last case replaces the checkpoint.
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		kept     bool // the earlier checkpoint is still there after
	}{
		{"neither flag", nil, exitUsage, []string{checkpoint, "--resume", "--restart"}, true},
		{"both flags", []string{"--resume", "--restart"}, exitUsage, []string{"give one"}, true},
		{"resume reads it", []string{"--resume"}, exitFailure, []string{"checkpoint"}, true},
		{"restart replaces it", []string{"--restart"}, exitOK, []string{"restarting: removed the checkpoint " + checkpoint}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"train", "--config", cfg, "--run-dir", run}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			b, err := os.ReadFile(checkpoint)
			if kept := err == nil && string(b) == earlier; kept != tc.kept || err != nil {
				t.Errorf("earlier checkpoint kept: %t, want %t (read: %v)", kept, tc.kept, err)
			}
		})
	}
}

// TestEveryCollectionFlagChecked walks the command tree: every command
// with a --collection flag must refuse an invalid name as a usage error
// that says the rule, before it runs, and accept a valid one.
func TestEveryCollectionFlagChecked(t *testing.T) {
	var walk func(*cobra.Command)
	checked := 0
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
		if cmd.Flags().Lookup("collection") == nil {
			return
		}
		checked++
		t.Run(cmd.CommandPath(), func(t *testing.T) {
			cases := []struct {
				name    string
				wantErr bool
			}{
				{"photos_2024", false},
				{"my-photos", true},
				{"9lives", true},
				{strings.Repeat("a", 256), true},
			}
			for _, tc := range cases {
				if err := cmd.Flags().Set("collection", tc.name); err != nil {
					t.Fatal(err)
				}
				if cmd.PreRunE == nil {
					t.Fatal("no PreRunE checks --collection")
				}
				err := cmd.PreRunE(cmd, nil)
				var ue usageError
				if tc.wantErr != (err != nil) || err != nil && (!errors.As(err, &ue) || !strings.Contains(err.Error(), "a letter or _, then letters, digits or _, at most 255 characters")) {
					t.Errorf("--collection %.20q: err = %v; want a usage error saying the rule: %t", tc.name, err, tc.wantErr)
				}
			}
		})
	}
	walk(newRootCmd())
	if checked < 3 { // ingest, query, reindex at least
		t.Fatalf("the test proved nothing: %d commands with --collection", checked)
	}
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
	model1, v1 := mustModel(t, dir, 1)
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
		{"reindex with an image gone", func() {
			if err := os.Remove(again); err != nil {
				t.Fatal(err)
			}
		}, []string{"reindex", "--model", model1, "--store-dir", store}, exitFailure,
			[]string{"  not re-embedded: " + again + " (id ", `reindex "images": 1 of 2 images could not be embedded again from their files (listed above); the collection is unchanged. Restore them, or pass --drop-missing to reindex without them`}},
		{"the collection is unchanged", func() {}, []string{"collections", "--store-dir", store}, exitOK, []string{v2}},
		{"reindex without it", func() {}, []string{"reindex", "--model", model1, "--store-dir", store, "--drop-missing"}, exitOK,
			[]string{"dropping 1 images whose files are gone or changed (--drop-missing)", `switched collection "images" to model ` + v1}},
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
		{"sync changed", errChanged, exitChanged},
		{"usage", usagef("bad"), exitUsage},
		{"configuration", fmt.Errorf("load: %w", config.ErrInvalid), exitUsage},
		{"training options", trainconfig.Options{}.Validate(), exitUsage},
		{"ingest options", ingest.Config{}.Validate(), exitUsage},
		{"serve options", server.Config{}.Validate(), exitUsage},
		{"Milvus options", fmt.Errorf("open milvus: %w", milvusconfig.Config{}.Validate()), exitUsage},
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
