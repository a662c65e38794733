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
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/deeprank/deeprank/trainer"
)

// EnvPrefix starts every environment variable deeprank reads.
const EnvPrefix = "DEEPRANK"

// Config is the whole configuration.
type Config struct {
	Train trainer.Options `json:"train"`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{Train: trainer.DefaultOptions()}
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
// training, trainer.Options.Validate).
func Load(file string, flags map[string]*pflag.Flag) (*Loaded, error) {
	v := viper.New()
	defaults, err := flatten(Default())
	if err != nil {
		return nil, err
	}
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix(EnvPrefix)
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
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// decodeMessage turns mapstructure's error text into lines that start with
// the key.
func decodeMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "decoding failed due to the following error(s):")
	msg = strings.TrimSpace(msg)
	return strings.ReplaceAll(msg, "\n\n", "; ")
}

// flatten lists the leaf keys of c with their default values. Slices and
// arrays are leaves.
func flatten(c Config) (map[string]any, error) {
	b, err := json.Marshal(c)
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
	// json turns durations into nanoseconds: keep them readable.
	out["train.checkpoint_every"] = c.Train.CheckpointEvery.String()
	// Fields left out when empty still are valid keys.
	for _, k := range []string{"train.model.width", "train.model.stages"} {
		if _, ok := out[k]; !ok {
			out[k] = 0
		}
	}
	return out, nil
}

// Keys lists every configuration key, sorted.
func Keys() []string {
	d, _ := flatten(Default())
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
