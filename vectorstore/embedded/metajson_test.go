package embedded

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
)

func TestMetaJSON(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("", 3600))
	for _, m := range []vectorstore.Metadata{
		{},
		{Path: "/photos/a.jpg", Size: 1 << 20, Width: 4032, Height: 3024, ModTime: when, Class: "beach"},
		{Path: "/photos/été/ü.jpg", ModTime: when.UTC()},
		{Path: `/a "quoted" \ path`, Class: "<b>&"},
		{Path: "bad utf-8 \xff", Class: "line\u2028sep"},
		{Path: "tab\there", Size: -1, Width: -2},
		{ModTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // json refuses the year
		{ModTime: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		checkMetaJSON(t, m)
	}
}

func FuzzMetaJSON(f *testing.F) {
	f.Add("/photos/a.jpg", "beach", int64(1<<20), 4032, 3024, int64(1767323045000000600), 3600)
	f.Add("\xff<>", "", int64(-1), 0, 0, int64(0), 0)
	f.Fuzz(func(t *testing.T, path, class string, size int64, w, h int, nanos int64, offset int) {
		zone := time.FixedZone("", offset%(24*3600))
		checkMetaJSON(t, vectorstore.Metadata{Path: path, Class: class, Size: size, Width: w, Height: h, ModTime: time.Unix(0, nanos).In(zone)})
	})
}

func checkMetaJSON(t *testing.T, m vectorstore.Metadata) {
	t.Helper()
	want, _ := json.Marshal(m)
	if got := appendMetaJSON(nil, m); !bytes.Equal(got, want) {
		t.Errorf("appendMetaJSON(%+v)\n got %s\nwant %s", m, got, want)
	}
}
