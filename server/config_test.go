package server

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string // the key the error names; "" for none
	}{
		{"default", func(*Config) {}, ""},
		{"no address", func(c *Config) { c.Addr = "" }, "serve.addr"},
		{"no upload", func(c *Config) { c.MaxUploadBytes = 0 }, "serve.max_upload_bytes"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "serve.timeout"},
		{"embeds", func(c *Config) { c.MaxEmbeds = -1 }, "serve.max_embeds"},
		{"queue", func(c *Config) { c.Queue = -1 }, "serve.queue"},
		{"thumbnails", func(c *Config) { c.ThumbnailCacheBytes = -1 }, "serve.thumbnail_cache_bytes"},
		{"zeros that mean defaults", func(c *Config) { c.MaxEmbeds, c.Queue, c.ThumbnailCacheBytes, c.UploadDir = 0, 0, 0, "" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+": ") || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want an error starting %q that matches ErrInvalidConfig", err, tc.want)
			}
		})
	}
}
