package main

import (
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncExitStatus checks what cron users test: 10 when the collection
// changed (or, with --dry-run, would change), 0 when it did not, and that
// a dry run creates nothing, not even the collection.
func TestSyncExitStatus(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writePNG(t, filepath.Join(data, "a.png"), color.Gray{Y: 10})
	writePNG(t, filepath.Join(data, "b.png"), color.Gray{Y: 90})
	m, _ := mustModel(t, dir, 1)
	store := filepath.Join(dir, "store")
	sync := func(args ...string) (string, int) {
		return runCLI(t, append([]string{"sync", "--model", m, "--store-dir", store, "--collection", "c"}, append(args, data)...)...)
	}
	steps := []struct {
		name   string
		before func()
		args   []string
		code   int
		want   string
	}{
		{"dry run of a new collection", func() {}, []string{"--dry-run"}, exitFailure, "collection not found"},
		{"first", func() {}, nil, exitChanged, "ingested 2"},
		{"unchanged", func() {}, nil, exitOK, "removed 0 images"},
		{"a file deleted, dry run", func() { os.Remove(filepath.Join(data, "b.png")) }, []string{"--dry-run"}, exitChanged, "would remove (gone): " + filepath.Join(data, "b.png")},
		{"a file deleted", func() {}, nil, exitChanged, "removed (gone): " + filepath.Join(data, "b.png")},
		{"unchanged again", func() {}, []string{"--json"}, exitOK, `"dry_run": false`},
	}
	for _, st := range steps {
		st.before()
		out, code := sync(st.args...)
		if code != st.code || !strings.Contains(out, st.want) {
			t.Fatalf("%s: exit %d (want %d), output:\n%s\nwant it to contain %q", st.name, code, st.code, out, st.want)
		}
	}
}
