package ingest

import (
	"errors"

	"github.com/deeprank/deeprank/internal/configerr"
)

// Config is the ingest section of deeprank's configuration (keys
// ingest.*): how ingest and reindex read, decode and batch images. The
// zero value is not valid: start from DefaultConfig.
type Config struct {
	BatchSize int `json:"batch_size"`
	// Workers decode images; 0 means all cores.
	Workers int `json:"workers"`
	// MaxPixels refuses, before decoding, images declaring more pixels.
	MaxPixels int64 `json:"max_pixels"`
	// MaxFileBytes refuses, before reading them, larger files.
	MaxFileBytes int64 `json:"max_file_bytes"`
	// DecodeMemoryBytes is the memory the workers' decodes share, each
	// estimated from its image's header; an image needing more is decoded
	// alone.
	DecodeMemoryBytes int64 `json:"decode_memory_bytes"`
	// Variants stores, beside each image's own vector, its model's
	// variants' (model.Spec.Variants); false stores its own only: less
	// memory and a faster ingest and search, without matching copies
	// through variants. A collection keeps what it was made with.
	Variants bool `json:"variants"`
}

// DefaultConfig returns the defaults of the ingest keys.
func DefaultConfig() Config {
	return Config{BatchSize: 64, MaxPixels: 50_000_000, MaxFileBytes: DefaultMaxFileBytes, DecodeMemoryBytes: DefaultDecodeMemory, Variants: true}
}

// ErrInvalidConfig is matched by the errors of Config.Validate.
var ErrInvalidConfig = errors.New("invalid ingest configuration")

// Validate reports the first impossible value, naming its key; the error
// matches ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error { return configerr.New(ErrInvalidConfig, format, args...) }
	switch {
	case c.BatchSize < 1 || c.BatchSize > 4096:
		return bad("ingest.batch_size: %d is outside 1..4096", c.BatchSize)
	case c.Workers < 0:
		return bad("ingest.workers: %d must not be negative", c.Workers)
	case c.MaxPixels < 1:
		return bad("ingest.max_pixels: %d must be at least 1", c.MaxPixels)
	case c.MaxFileBytes < 1:
		return bad("ingest.max_file_bytes: %d must be at least 1", c.MaxFileBytes)
	case c.DecodeMemoryBytes < 1:
		return bad("ingest.decode_memory_bytes: %d must be at least 1", c.DecodeMemoryBytes)
	}
	return nil
}

// Options are the options of a run under c, with progress reported to
// progress (which may be nil).
func (c Config) Options(progress func(Progress)) *Options {
	return &Options{BatchSize: c.BatchSize, Workers: c.Workers, Progress: progress,
		MaxFileBytes: c.MaxFileBytes, DecodeMemory: c.DecodeMemoryBytes}
}
