// Package config loads deeprank's configuration with viper: built-in
// defaults, then a YAML file, then DEEPRANK_* environment variables, then
// command-line flags, each overriding the one before.
//
// Keys are the YAML paths in lower case, such as train.batch_size; the
// environment variable of a key is DEEPRANK_ followed by the key in upper
// case with dots as underscores (DEEPRANK_TRAIN_BATCH_SIZE). Unknown keys,
// values of the wrong type and impossible values are errors that name the
// key. viper stays inside this package: the rest of deeprank gets typed
// structs.
//
// config loads; it does not define. Its sections are, where a package has
// them, that package's own option types with their defaults and checks
// (ingest.Config, server.Config, trainconfig.Options, milvusconfig.Config);
// the typed enums (vectorstore.Metric, StoreKind) carry their own Valid.
// config imports neither gorgonia nor the Milvus SDK. Errors of a value
// match ErrInvalid and the section's own sentinel (ingest.ErrInvalidConfig,
// server.ErrInvalidConfig, milvusconfig.ErrInvalid), or
// trainconfig.ErrInvalid alone for the train section (checked by its
// command).
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/rerank"
	"github.com/deeprank/deeprank/server"
	"github.com/deeprank/deeprank/trainer/trainconfig"
	"github.com/deeprank/deeprank/vectorstore"
)

// envPrefix starts every environment variable deeprank reads.
const envPrefix = "DEEPRANK"

// Config is the whole configuration.
type Config struct {
	// Model is the model file that ingest and query embed with; empty
	// means the default model built into deeprank.
	Model  string              `json:"model"`
	Store  Store               `json:"store"`
	Ingest ingest.Config       `json:"ingest"`
	Query  Query               `json:"query"`
	Dupes  Dupes               `json:"dupes"`
	Serve  server.Config       `json:"serve"`
	Train  trainconfig.Options `json:"train"`
}

// Store says where vectors are kept.
type Store struct {
	// Kind is embedded (files under Dir) or milvus (a Milvus server).
	Kind StoreKind `json:"kind"`
	// Dir is the embedded store's folder; empty means
	// $XDG_DATA_HOME/deeprank (~/.local/share/deeprank).
	Dir string `json:"dir"`
	// Metric of new collections: L2, COSINE or IP; empty means L2 on the
	// embedded store and COSINE on Milvus.
	Metric vectorstore.Metric `json:"metric"`
	// CompactLogBytes is the embedded store's log size past which a writer
	// moves the log into a segment.
	CompactLogBytes int64 `json:"compact_log_bytes"`
	// Milvus is how to reach and index Milvus, for kind milvus.
	Milvus milvusconfig.Config `json:"milvus"`
}

// StoreKind names where vectors are kept.
type StoreKind string

// The store kinds.
const (
	// Embedded is the store built into deeprank (package embedded).
	Embedded StoreKind = "embedded"
	// Milvus is a Milvus server (package milvus).
	Milvus StoreKind = "milvus"
)

// Valid reports whether k is one of the store kinds.
func (k StoreKind) Valid() bool { return k == Embedded || k == Milvus }

// MetricOrDefault is the metric of new collections after defaults.
func (s Store) MetricOrDefault() vectorstore.Metric {
	switch {
	case s.Metric != "":
		return s.Metric
	case s.Kind == Milvus:
		return vectorstore.MetricCosine
	}
	return vectorstore.MetricL2
}

// Query tunes searches.
type Query struct {
	TopK int `json:"top_k"`
	// Variants searches with a query image's variants too, its mirror
	// image and its turns back where the model stores those variants
	// (embedder.Options.QueryVariants), and keeps each stored image's
	// nearest: a copy that went through two edits (a crop mirrored or
	// turned) meets the stored variant that holds one of them. It costs a
	// forward pass and a search a variant. deeprank eval ranks its model
	// rows the same way. Off by default: with the default model it finds
	// more copies edited twice and fewer emoji of another vendor
	// (RUN-NOTES, the seventy-ninth).
	Variants bool `json:"variants"`
	// Rerank orders the nearest hits again by how each hit's picture
	// lines up with the query's (package rerank), reading their image
	// files; deeprank eval ranks its model rows the same way. top: 0
	// turns it off.
	Rerank rerank.Options `json:"rerank"`
}

// Dupes tunes `deeprank dupes`.
type Dupes struct {
	// MaxDistance makes two images near-duplicates at this distance or
	// nearer, under the collection's metric. 0, the default, means the
	// built-in model's calibrated distance, which fits a collection of
	// that model only: set it for a collection of another model, to the
	// distance `deeprank eval --thresholds` calibrates for that model.
	// (dupes --max-distance 0 is taken as given: exact copies only.)
	MaxDistance float64 `json:"max_distance"`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Store:  Store{Kind: Embedded, CompactLogBytes: 16 << 20, Milvus: milvusconfig.Default()},
		Ingest: ingest.DefaultConfig(),
		Query:  Query{TopK: 10, Rerank: rerank.Default()},
		Serve:  server.DefaultConfig(),
		Train:  trainconfig.Default(),
	}
}

// StoreDir is the embedded store's folder after defaults.
func (c Config) StoreDir() string {
	if c.Store.Dir != "" {
		return c.Store.Dir
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "deeprank")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".deeprank")
	}
	return filepath.Join(home, ".local", "share", "deeprank")
}

// StoreLocation names where the store is, for messages: its folder, or
// the Milvus server.
func (c Config) StoreLocation() string {
	if c.Store.Kind == Milvus {
		return "Milvus at " + c.Store.Milvus.Address
	}
	return c.StoreDir()
}

// Validate checks the values ingest and query use.
func (c Config) Validate() error {
	switch {
	case !c.Store.Kind.Valid():
		return fmt.Errorf("%w: store.kind: %q is not embedded or milvus", ErrInvalid, c.Store.Kind)
	case c.Store.Metric != "" && !c.Store.Metric.Valid():
		return fmt.Errorf("%w: store.metric: %q is not L2, COSINE or IP", ErrInvalid, c.Store.Metric)
	case c.Store.CompactLogBytes < 1:
		return fmt.Errorf("%w: store.compact_log_bytes: %d is not positive", ErrInvalid, c.Store.CompactLogBytes)
	}
	if err := c.Ingest.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Query.TopK < 1 || c.Query.TopK > 10000 {
		return fmt.Errorf("%w: query.top_k: %d is outside 1..10000", ErrInvalid, c.Query.TopK)
	}
	if err := c.ValidateRerank(); err != nil {
		return err
	}
	if d := c.Dupes.MaxDistance; math.IsNaN(d) || math.IsInf(d, 0) {
		return fmt.Errorf("%w: dupes.max_distance: %g is not a finite distance: give the calibrated one, e.g. 0.46", ErrInvalid, d)
	}
	if err := c.Serve.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Store.Kind == Milvus {
		if err := c.Store.Milvus.Validate(); err != nil {
			return fmt.Errorf("%w: store.%w", ErrInvalid, err)
		}
	}
	return nil
}

// ValidateRerank checks query.rerank, which eval uses as well as query
// and serve.
func (c Config) ValidateRerank() error {
	if err := c.Query.Rerank.Validate(); err != nil {
		return fmt.Errorf("%w: query.rerank.%w", ErrInvalid, err)
	}
	return nil
}

// ErrInvalid is returned (wrapped) for any configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Source says where a key's value came from.
type Source string

// The sources of a value, lowest precedence first.
const (
	FromDefault Source = "default"
	FromFile    Source = "file"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Loaded is a configuration with the origin of each key.
type Loaded struct {
	Config
	// File is the configuration file read, or "".
	File string
	// Sources maps every key to where its value came from.
	Sources map[string]Source
}

// Load reads the configuration. file may be empty. flags maps keys to the
// command-line flags that set them; a flag counts only when given. Load
// checks keys and types; each command validates the values it uses (for
// training, trainconfig.Options.Validate).
func Load(file string, flags map[string]*pflag.Flag) (*Loaded, error) {
	v := viper.New()
	defaults, err := Flatten(Default())
	if err != nil {
		return nil, err
	}
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	where := ""
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: read %s: %v", ErrInvalid, file, err)
		}
		where = " in " + file
		for _, k := range v.AllKeys() {
			if _, ok := defaults[k]; !ok {
				return nil, fmt.Errorf("%w: unknown key %q%s; see config.example.yaml for the keys", ErrInvalid, k, where)
			}
		}
	}
	for k, f := range flags {
		if _, ok := defaults[k]; !ok {
			return nil, fmt.Errorf("config: flag --%s is bound to unknown key %q", f.Name, k)
		}
		if err := v.BindPFlag(k, f); err != nil {
			return nil, err
		}
	}
	var c Config
	err = v.UnmarshalExact(&c, func(dc *mapstructure.DecoderConfig) {
		dc.TagName = "json"
		dc.WeaklyTypedInput = false
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(stringHook, integralHook)
	})
	if err != nil {
		return nil, fmt.Errorf("%w%s: %s", ErrInvalid, where, decodeMessage(err))
	}
	l := &Loaded{Config: c, File: file, Sources: map[string]Source{}}
	for k := range defaults {
		l.Sources[k] = FromDefault
		if v.InConfig(k) {
			l.Sources[k] = FromFile
		}
		if _, ok := os.LookupEnv(EnvName(k)); ok {
			l.Sources[k] = FromEnv
		}
		if f, ok := flags[k]; ok && f.Changed {
			l.Sources[k] = FromFlag
		}
	}
	return l, nil
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// decodeMessage turns mapstructure's error text into lines that start with
// the key.
func decodeMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "decoding failed due to the following error(s):")
	msg = strings.TrimSpace(msg)
	return strings.ReplaceAll(msg, "\n\n", "; ")
}

// Flatten lists the leaf keys of c with their values. Slices and arrays
// are leaves.
func Flatten(c Config) (map[string]any, error) {
	out, err := jsonLeaves(c)
	if err != nil {
		return nil, err
	}
	if err := fixLeaves(out, "", reflect.ValueOf(c)); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonLeaves lists the leaf keys json gives v, with their values.
func jsonLeaves(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, err
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			key := prefix + k
			if sub, ok := val.(map[string]any); ok {
				walk(key+".", sub)
				continue
			}
			out[key] = val
		}
	}
	walk("", tree)
	return out, nil
}

// fixLeaves mends the leaves json gets wrong in out, walking the struct v
// with its json keys under prefix: every time.Duration in its text form
// ("5m0s"), where json would give nanoseconds; and every field left out
// when empty (omitempty: zero, or a slice or map of length 0) with its
// value, since it still is a valid key, and the leaves of a struct left
// out when zero (omitzero). A nil pointer is no key: it is how
// a value that another key sets stays out of the file (the model block's
// variants, which train.variants sets).
func fixLeaves(out map[string]any, prefix string, v reflect.Value) error {
	for i := range v.NumField() {
		name, opts, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		switch f := v.Field(i); {
		case f.Type() == reflect.TypeOf(time.Duration(0)):
			out[prefix+name] = time.Duration(f.Int()).String()
		case f.Kind() == reflect.Struct:
			if slices.Contains(strings.Split(opts, ","), "omitzero") && f.IsZero() {
				leaves, err := jsonLeaves(f.Interface())
				if err != nil {
					return err
				}
				for k, val := range leaves {
					out[prefix+name+"."+k] = val
				}
			}
			if err := fixLeaves(out, prefix+name+".", f); err != nil {
				return err
			}
		case f.Kind() == reflect.Pointer:
		case slices.Contains(strings.Split(opts, ","), "omitempty") && (f.IsZero() ||
			(f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0):
			out[prefix+name] = f.Interface()
		}
	}
	return nil
}

// secretKeys are the keys whose values must not be shown: whoever reads
// `deeprank config show` (a bug report, a CI log) should not get them.
var secretKeys = []string{"store.milvus.password", "store.milvus.token", "serve.token"}

// Redacted stands in for a secret that is set, in what Redact returns.
const Redacted = "****"

// Redact replaces in values, as Flatten returns them, every secret that is
// set with Redacted; an unset one stays empty, so that one can still see
// whether it is set.
func Redact(values map[string]any) {
	for _, k := range secretKeys {
		if v, ok := values[k]; ok && v != "" && v != nil {
			values[k] = Redacted
		}
	}
}

// Keys lists every configuration key, sorted.
func Keys() []string {
	d, _ := Flatten(Default())
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stringHook parses strings (from the environment and flags) into the
// target type; anything unparsable is an error.
func stringHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if to == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 90s or 5m", s)
		}
		return d, nil
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a non-negative integer", s)
		}
		return n, nil
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	}
	return data, nil
}

// integralHook refuses a fractional number where an integer is expected,
// which mapstructure would otherwise truncate.
func integralHook(from, to reflect.Type, data any) (any, error) {
	switch to.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		if from.Kind() == reflect.Float64 || from.Kind() == reflect.Float32 {
			f := reflect.ValueOf(data).Float()
			if f != math.Trunc(f) {
				return nil, fmt.Errorf("%v is not an integer", f)
			}
			return int64(f), nil
		}
	}
	return data, nil
}
