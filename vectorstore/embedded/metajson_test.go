package embedded

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
)

// sampleMetadata has plain and escaped strings, negative numbers and
// years json cannot write.
func sampleMetadata() []vectorstore.Metadata {
	when := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("", 3600))
	return []vectorstore.Metadata{
		{},
		{Path: "/photos/a.jpg", Size: 1 << 20, Width: 4032, Height: 3024, ModTime: when, Class: "beach"},
		{Path: "/photos/été/ü.jpg", ModTime: when.UTC()},
		{Path: `/a "quoted" \ path`, Class: "<b>&"},
		{Path: "bad utf-8 \xff", Class: "line\u2028sep"},
		{Path: "tab\there", Size: -1, Width: -2},
		{ModTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // json refuses the year
		{ModTime: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func TestMetaJSON(t *testing.T) {
	for _, m := range sampleMetadata() {
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

// FuzzParseMetaJSON checks parseMetaJSON against json.Unmarshal on any
// input: the same error-or-not and the same metadata. The seeds are what
// appendMetaJSON writes, which the fast path reads, and near misses, which
// go to encoding/json.
func FuzzParseMetaJSON(f *testing.F) {
	for _, m := range sampleMetadata() {
		f.Add(appendMetaJSON(nil, m))
	}
	for _, s := range []string{
		`{"path":"a","size":-0,"width":1,"height":2,"mod_time":"2026-01-02T03:04:05Z"}`,
		`{"path":"a","size":01,"width":1,"height":2,"mod_time":"2026-01-02T03:04:05Z"}`,
		`{"path":"a","size":1,"width":1,"height":2,"mod_time":"2026-01-02T03:04:05Z","class":""}`,
		`{"path":"a","size":1,"width":1,"height":2,"mod_time":"2026-13-02T03:04:05Z"}`,
		`{"path":"a","size":99999999999999999999,"width":1,"height":2,"mod_time":"2026-01-02T03:04:05Z"}`,
		`{"path":"a","size":1,"width":1,"height":2,"mod_time":"2026-01-02T03:04:05Z"} `,
		`{"size":1,"path":"a"}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		var want, got vectorstore.Metadata
		wantErr := json.Unmarshal(js, &want)
		gotErr := parseMetaJSON(js, &got)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, json.Unmarshal's %v", js, gotErr, wantErr)
		}
		if wantErr != nil {
			return
		}
		_, gotOffset := got.ModTime.Zone()
		_, wantOffset := want.ModTime.Zone()
		if got.Path != want.Path || got.Class != want.Class || got.Size != want.Size || got.Width != want.Width ||
			got.Height != want.Height || !got.ModTime.Equal(want.ModTime) || gotOffset != wantOffset {
			t.Fatalf("%q: %+v, json.Unmarshal gives %+v", js, got, want)
		}
	})
}

// TestParseMetaJSONFast checks that what appendMetaJSON writes for plain
// strings takes the fast path (the point of parseMetaJSON).
func TestParseMetaJSONFast(t *testing.T) {
	m := vectorstore.Metadata{Path: "/photos/a.jpg", Size: 1 << 20, Width: 4032, Height: 3024,
		ModTime: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), Class: "beach"}
	for _, m := range []vectorstore.Metadata{m, {Path: m.Path, ModTime: m.ModTime}} {
		var got vectorstore.Metadata
		if !parsePlainMeta(appendMetaJSON(nil, m), &got) || got != m {
			t.Errorf("fast path on %+v: %+v", m, got)
		}
	}
}

// BenchmarkParseMetaJSON compares parseMetaJSON with json.Unmarshal on a
// typical item's metadata, as a reader replays the log's.
func BenchmarkParseMetaJSON(b *testing.B) {
	js := appendMetaJSON(nil, vectorstore.Metadata{Path: "/home/user/Pictures/2026/holiday/IMG_20260102_030405.jpg",
		Size: 3 << 20, Width: 4032, Height: 3024, ModTime: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), Class: "holiday"})
	for _, bc := range []struct {
		name  string
		parse func([]byte, *vectorstore.Metadata) error
	}{
		{"parseMetaJSON", parseMetaJSON},
		{"encoding-json", func(js []byte, m *vectorstore.Metadata) error { return json.Unmarshal(js, m) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var m vectorstore.Metadata
			for b.Loop() {
				if err := bc.parse(js, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
