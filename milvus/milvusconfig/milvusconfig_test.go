package milvusconfig

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"no address", func(c *Config) { c.Address = "" }, "milvus.address"},
		{"no timeout", func(c *Config) { c.RequestTimeout = 0 }, "milvus.connect_timeout and milvus.request_timeout"},
		{"index", func(c *Config) { c.Index = "DISKANN" }, "milvus.index"},
		{"hnsw", func(c *Config) { c.HNSWM = 1 }, "milvus.hnsw_m"},
		{"nlist", func(c *Config) { c.IVFNList = 0 }, "milvus.ivf_nlist"},
		{"ef", func(c *Config) { c.SearchEf = 0 }, "milvus.search_ef"},
		{"consistency", func(c *Config) { c.Consistency = "strong" }, "milvus.consistency"},
		{"batch", func(c *Config) { c.BatchBytes = 1000 }, "milvus.batch_bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && (!strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, ErrInvalid))) {
				t.Errorf("Validate() = %v, want an error starting with %q that matches ErrInvalid", err, tc.want)
			}
		})
	}
}
