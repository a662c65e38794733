package server

import (
	"errors"
	"time"

	"github.com/deeprank/deeprank/internal/configerr"
)

// Config is the serve section of deeprank's configuration (keys serve.*):
// where deeprank serve listens and how the server bounds its work.
// DefaultConfig gives deeprank serve's defaults; in Options, which embeds
// a Config, a zero field means what that field's comment says New uses.
type Config struct {
	// Addr is the host:port deeprank serve listens on; CheckAddr says
	// whether it needs Token. The Server itself answers on whatever
	// listener Serve is given.
	Addr string `json:"addr"`
	// Token, when set, must come with every API and /metrics request as
	// "Authorization: Bearer TOKEN".
	Token string `json:"token"`
	// MaxUploadBytes bounds a search request's body, and the stored files
	// read to serve them or their thumbnails; 0 means 32 MB.
	MaxUploadBytes int64 `json:"max_upload_bytes"`
	// Timeout bounds each request; 0 means 30 s.
	Timeout time.Duration `json:"timeout"`
	// MaxEmbeds is how many images are embedded at once; 0 means
	// GOMAXPROCS.
	MaxEmbeds int `json:"max_embeds"`
	// Queue is how many searches may wait for an embedding slot; a search
	// beyond it gets 503 with Retry-After. 0 means none wait.
	Queue int `json:"queue"`
	// ThumbnailCacheBytes bounds the thumbnail cache; 0 means no cache.
	ThumbnailCacheBytes int64 `json:"thumbnail_cache_bytes"`
	// UploadDir is the folder uploaded images are stored in (POST
	// /v1/collections/NAME/images), each named by its id and its original
	// extension; empty refuses uploads with 403.
	UploadDir string `json:"upload_dir"`
}

// DefaultConfig returns the defaults of the serve keys.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8080", MaxUploadBytes: 32 << 20, Timeout: 30 * time.Second,
		Queue: 16, ThumbnailCacheBytes: 32 << 20}
}

// ErrInvalidConfig is matched by the errors of Config.Validate.
var ErrInvalidConfig = errors.New("invalid serve configuration")

// Validate reports the first impossible value, naming its key; the error
// matches ErrInvalidConfig. Whether Addr may go without a token is
// CheckAddr's to say, when deeprank serve starts.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error { return configerr.New(ErrInvalidConfig, format, args...) }
	switch {
	case c.Addr == "":
		return bad("serve.addr: empty; give host:port such as 127.0.0.1:8080")
	case c.MaxUploadBytes < 1:
		return bad("serve.max_upload_bytes: %d is not positive", c.MaxUploadBytes)
	case c.Timeout <= 0:
		return bad("serve.timeout: %s is not positive", c.Timeout)
	case c.MaxEmbeds < 0:
		return bad("serve.max_embeds: %d must not be negative", c.MaxEmbeds)
	case c.Queue < 0:
		return bad("serve.queue: %d must not be negative", c.Queue)
	case c.ThumbnailCacheBytes < 0:
		return bad("serve.thumbnail_cache_bytes: %d must not be negative", c.ThumbnailCacheBytes)
	}
	return nil
}
