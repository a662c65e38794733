package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/server"
	"github.com/deeprank/deeprank/trainer/trainconfig"
	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleFile proves config.example.yaml names every key with its
// default.
func TestExampleFile(t *testing.T) {
	l, err := Load("../config.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Config, Default()) {
		t.Errorf("example file differs from the defaults:\n got %+v\nwant %+v", l.Config, Default())
	}
	for k, s := range l.Sources {
		if s != FromFile {
			t.Errorf("key %s is not in the example file (source %s)", k, s)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		body string
		want string // substring of the error
	}{
		{"unknown key", "train:\n  epochz: 3\n", `unknown key "train.epochz"`},
		{"unknown section", "serve:\n  port: 1\n", `unknown key "serve.port"`},
		{"string for int", "train:\n  epochs: ten\n", "train.epochs"},
		{"fraction for int", "train:\n  batch_size: 2.5\n", "train.batch_size"},
		{"word for bool", "train:\n  nesterov: maybe\n", "train.nesterov"},
		{"list for number", "train:\n  gap: [1, 2]\n", "train.gap"},
		{"bad duration", "train:\n  checkpoint_every: soon\n", "train.checkpoint_every"},
		{"not yaml", "train: [\n", "read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.body), nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "train:\n  epochs: 3\n  batch_size: 16\n  gap: 0.5\n")
	t.Setenv("DEEPRANK_TRAIN_BATCH_SIZE", "32")
	t.Setenv("DEEPRANK_TRAIN_GAP", "0.25")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Float64("gap", 1, "")
	if err := fs.Parse([]string{"--gap=2"}); err != nil {
		t.Fatal(err)
	}
	l, err := Load(file, map[string]*pflag.Flag{"train.gap": fs.Lookup("gap")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key    string
		got    any
		want   any
		source Source
	}{
		{"train.epochs", l.Train.Epochs, 3, FromFile},
		{"train.batch_size", l.Train.BatchSize, 32, FromEnv},
		{"train.gap", l.Train.Gap, 2.0, FromFlag},
		{"train.optimizer", l.Train.Optimizer, trainconfig.SGD, FromDefault},
	}
	for _, tc := range cases {
		if tc.got != tc.want || l.Sources[tc.key] != tc.source {
			t.Errorf("%s = %v from %s, want %v from %s", tc.key, tc.got, l.Sources[tc.key], tc.want, tc.source)
		}
	}
}

// TestCropGrids: a variant's crop grid is read with a side, or with a
// width and a height.
func TestCropGrids(t *testing.T) {
	file := writeFile(t, "train:\n  variants:\n    crops:\n      - {grid: 3, side: 0.8}\n      - {grid: 3, width: 0.5, height: 1}\n")
	l, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.CropGrid{{Grid: 3, Side: 0.8}, {Grid: 3, Width: 0.5, Height: 1}}
	if got := l.Train.Variants.Crops; !slices.Equal(got, want) {
		t.Errorf("crops %+v, want %+v", got, want)
	}
}

func TestEnvWrongType(t *testing.T) {
	t.Setenv("DEEPRANK_TRAIN_EPOCHS", "many")
	_, err := Load("", nil)
	if err == nil || !strings.Contains(err.Error(), "train.epochs") {
		t.Fatalf("err = %v, want one naming train.epochs", err)
	}
}

func TestStoreLocation(t *testing.T) {
	c := Default()
	c.Store.Dir = "/data/store"
	if got := c.StoreLocation(); got != "/data/store" {
		t.Errorf("embedded: %q", got)
	}
	c.Store.Kind = "milvus"
	if got := c.StoreLocation(); got != "Milvus at 127.0.0.1:19530" {
		t.Errorf("milvus: %q", got)
	}
}

// FuzzLoad reads arbitrary configuration files: Load must return a
// configuration or an ErrInvalid, never panic, and what it accepts must
// flatten back into keys.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add("train:\n  epochs: 3\n  augment:\n    crop: 0.3\n")
	f.Add("train:\n  model:\n    shallow:\n      - {filters: 8, kernel: 4, stride: 4}\n")
	f.Add("train:\n  checkpoint_every: 2m\n  epochs: ten\n")
	f.Add("train: [\n")
	f.Fuzz(func(t *testing.T, body string) {
		l, err := Load(writeFile(t, body), nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			return
		}
		if _, err := Flatten(l.Config); err != nil {
			t.Fatalf("accepted, but Flatten fails: %v", err)
		}
	})
}

// TestSecretKeys guards the list of secrets against drift: each is a key,
// and every key named like a secret is on it, so that a new one is not
// shown in clear by config show.
func TestSecretKeys(t *testing.T) {
	keys := Keys()
	for _, k := range secretKeys {
		if !slices.Contains(keys, k) {
			t.Errorf("secret %q is not a configuration key", k)
		}
	}
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		for _, word := range []string{"password", "token", "secret", "api_key", "apikey", "credential"} {
			if strings.Contains(leaf, word) && !slices.Contains(secretKeys, k) {
				t.Errorf("key %q looks like a secret but is not in secretKeys", k)
			}
		}
	}
	values := map[string]any{"store.milvus.password": "hunter2", "store.milvus.token": "", "store.milvus.username": "root"}
	Redact(values)
	want := map[string]any{"store.milvus.password": Redacted, "store.milvus.token": "", "store.milvus.username": "root"}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("Redact gave %v, want %v", values, want)
	}
}

func TestValidateIngest(t *testing.T) {
	cases := []struct {
		name string
		set  func(*ingest.Config)
		want string // the error; "" for none
	}{
		{"defaults", func(*ingest.Config) {}, ""},
		{"batch", func(i *ingest.Config) { i.BatchSize = 5000 }, "invalid configuration: ingest.batch_size: 5000 is outside 1..4096"},
		{"workers", func(i *ingest.Config) { i.Workers = -1 }, "invalid configuration: ingest.workers: -1 must not be negative"},
		{"pixels", func(i *ingest.Config) { i.MaxPixels = 0 }, "invalid configuration: ingest.max_pixels: 0 must be at least 1"},
		{"no file size", func(i *ingest.Config) { i.MaxFileBytes = 0 }, "invalid configuration: ingest.max_file_bytes: 0 must be at least 1"},
		{"no decode memory", func(i *ingest.Config) { i.DecodeMemoryBytes = -1 }, "invalid configuration: ingest.decode_memory_bytes: -1 must be at least 1"},
		{"a tiny decode budget decodes one at a time", func(i *ingest.Config) { i.DecodeMemoryBytes = 1 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c.Ingest)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalid) || !errors.Is(err, ingest.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want %q matching ErrInvalid and ingest.ErrInvalidConfig", err, tc.want)
			}
		})
	}
}

// TestValidateServeMilvus pins the messages of the serve and store.milvus
// checks, which their own packages make: each names its key and matches
// its package's sentinel.
func TestValidateServeMilvus(t *testing.T) {
	cases := []struct {
		name     string
		set      func(*Config)
		want     string
		sentinel error // the section's own
	}{
		{"serve addr", func(c *Config) { c.Serve.Addr = "" }, "invalid configuration: serve.addr: empty; give host:port such as 127.0.0.1:8080", server.ErrInvalidConfig},
		{"serve upload", func(c *Config) { c.Serve.MaxUploadBytes = 0 }, "invalid configuration: serve.max_upload_bytes: 0 is not positive", server.ErrInvalidConfig},
		{"serve timeout", func(c *Config) { c.Serve.Timeout = -time.Second }, "invalid configuration: serve.timeout: -1s is not positive", server.ErrInvalidConfig},
		{"serve embeds", func(c *Config) { c.Serve.MaxEmbeds = -1 }, "invalid configuration: serve.max_embeds: -1 must not be negative", server.ErrInvalidConfig},
		{"serve queue", func(c *Config) { c.Serve.Queue = -2 }, "invalid configuration: serve.queue: -2 must not be negative", server.ErrInvalidConfig},
		{"serve thumbnails", func(c *Config) { c.Serve.ThumbnailCacheBytes = -3 }, "invalid configuration: serve.thumbnail_cache_bytes: -3 must not be negative", server.ErrInvalidConfig},
		{"milvus address", func(c *Config) { c.Store.Milvus.Address = "" }, "invalid configuration: store.milvus.address: empty; give host:port", milvusconfig.ErrInvalid},
		{"milvus index", func(c *Config) { c.Store.Milvus.Index = "DISKANN" }, `invalid configuration: store.milvus.index: "DISKANN" is not HNSW, IVF_FLAT, FLAT or AUTOINDEX`, milvusconfig.ErrInvalid},
		{"milvus batch", func(c *Config) { c.Store.Milvus.BatchBytes = 10 }, "invalid configuration: store.milvus.batch_bytes: 10 is below 1 MiB", milvusconfig.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Store.Kind = Milvus
			tc.set(&c)
			err := c.Validate()
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalid) || !errors.Is(err, tc.sentinel) {
				t.Errorf("Validate() = %v, want %q matching ErrInvalid and %v", err, tc.want, tc.sentinel)
			}
		})
	}
}

// TestValidateDupes checks dupes.max_distance: any number passes, a
// negative one too (a threshold under IP is a negated dot product); NaN
// and infinities fail, naming the key.
func TestValidateDupes(t *testing.T) {
	cases := []struct {
		name string
		d    float64
		want string // the error; "" for none
	}{
		{"the built-in model's", 0, ""},
		{"calibrated", 0.46, ""},
		{"under IP", -0.9, ""},
		{"not a number", math.NaN(), "invalid configuration: dupes.max_distance: NaN is not a finite distance: give the calibrated one, e.g. 0.46"},
		{"infinite", math.Inf(1), "invalid configuration: dupes.max_distance: +Inf is not a finite distance: give the calibrated one, e.g. 0.46"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Dupes.MaxDistance = tc.d
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want %q matching ErrInvalid", err, tc.want)
			}
		})
	}
}
