// Package milvusconfig holds how deeprank reaches and indexes Milvus (the
// config's store.milvus section), its defaults and its validation. It is
// apart from package milvus so that loading a configuration does not link
// the Milvus SDK.
package milvusconfig

import (
	"errors"
	"slices"
	"time"

	"github.com/deeprank/deeprank/internal/configerr"
)

// Config is how to reach Milvus and how to index. The zero value of a field
// means its default (Default).
type Config struct {
	// Address is host:port, or an http(s):// URI (https turns on TLS).
	Address string `json:"address"`
	// Username and Password, or Token (an API key or "user:password"),
	// when the server has authentication on.
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token"`
	// TLS encrypts the connection.
	TLS bool `json:"tls"`
	// Database holds the collections; empty means "default".
	Database string `json:"database"`
	// ConnectTimeout bounds Open; RequestTimeout bounds every call after.
	ConnectTimeout time.Duration `json:"connect_timeout"`
	RequestTimeout time.Duration `json:"request_timeout"`
	// Index is HNSW, IVF_FLAT, FLAT or AUTOINDEX.
	Index string `json:"index"`
	// HNSWM and HNSWEfConstruction build HNSW; IVFNList builds IVF_FLAT.
	HNSWM              int `json:"hnsw_m"`
	HNSWEfConstruction int `json:"hnsw_ef_construction"`
	IVFNList           int `json:"ivf_nlist"`
	// SearchEf (HNSW, raised to k when lower) and SearchNProbe (IVF_FLAT)
	// trade search speed for recall.
	SearchEf     int `json:"search_ef"`
	SearchNProbe int `json:"search_nprobe"`
	// Consistency is Strong, Bounded, Session or Eventually.
	Consistency string `json:"consistency"`
	// BatchBytes caps the size of one upsert request; Milvus refuses
	// messages over its grpc.serverMaxRecvSize (64 MB by default).
	BatchBytes int `json:"batch_bytes"`
}

// Default is the configuration of a local Milvus standalone.
func Default() Config {
	return Config{
		Address:            "127.0.0.1:19530",
		ConnectTimeout:     10 * time.Second,
		RequestTimeout:     60 * time.Second,
		Index:              "HNSW",
		HNSWM:              16,
		HNSWEfConstruction: 200,
		IVFNList:           1024,
		SearchEf:           64,
		SearchNProbe:       16,
		Consistency:        "Strong",
		BatchBytes:         16 << 20,
	}
}

// ErrInvalid is matched by the errors of Config.Validate.
var ErrInvalid = errors.New("invalid Milvus configuration")

// Validate reports the first impossible value, naming its key (under
// milvus.; the configuration puts the section at store.milvus); the error
// matches ErrInvalid.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error { return configerr.New(ErrInvalid, format, args...) }
	switch {
	case c.Address == "":
		return bad("milvus.address: empty; give host:port")
	case c.ConnectTimeout <= 0 || c.RequestTimeout <= 0:
		return bad("milvus.connect_timeout and milvus.request_timeout must be above 0")
	case !slices.Contains([]string{"HNSW", "IVF_FLAT", "FLAT", "AUTOINDEX"}, c.Index):
		return bad("milvus.index: %q is not HNSW, IVF_FLAT, FLAT or AUTOINDEX", c.Index)
	case c.HNSWM < 2 || c.HNSWM > 2048 || c.HNSWEfConstruction < 1:
		return bad("milvus.hnsw_m (%d) must be in 2..2048 and milvus.hnsw_ef_construction (%d) at least 1", c.HNSWM, c.HNSWEfConstruction)
	case c.IVFNList < 1 || c.IVFNList > 65536:
		return bad("milvus.ivf_nlist: %d is outside 1..65536", c.IVFNList)
	case c.SearchEf < 1 || c.SearchNProbe < 1:
		return bad("milvus.search_ef (%d) and milvus.search_nprobe (%d) must be at least 1", c.SearchEf, c.SearchNProbe)
	case !slices.Contains(consistencies, c.Consistency):
		return bad("milvus.consistency: %q is not Strong, Bounded, Session or Eventually", c.Consistency)
	case c.BatchBytes < 1<<20:
		return bad("milvus.batch_bytes: %d is below 1 MiB", c.BatchBytes)
	}
	return nil
}

// consistencies are the consistency levels Milvus knows, by name.
var consistencies = []string{"Strong", "Bounded", "Session", "Eventually"}
