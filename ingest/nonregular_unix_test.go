//go:build unix

package ingest

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestIngestNonRegularFiles: a FIFO, named or in a folder, blocked the
// old ingest forever (opening it waits for a writer), beyond Ctrl-C; a
// device never ended. Each is now a failure of its own, and the run goes on.
func TestIngestNonRegularFiles(t *testing.T) {
	e := mustEmbedder(t)
	fifo := func(t *testing.T, p string) string {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		// Release a reader blocked on it, as the old code was, so that the
		// test ends either way.
		t.Cleanup(func() {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		})
		return p
	}
	cases := []struct {
		name string
		// setup returns the paths to ingest beside data, a folder of three
		// images, and those that must fail as not regular.
		setup func(t *testing.T, data string) (paths, fails []string)
	}{
		{"a FIFO named", func(t *testing.T, data string) ([]string, []string) {
			p := fifo(t, filepath.Join(t.TempDir(), "pipe.jpg"))
			return []string{p}, []string{p}
		}},
		{"a FIFO in a folder", func(t *testing.T, data string) ([]string, []string) {
			return nil, []string{fifo(t, filepath.Join(data, "dogs", "pipe.png"))}
		}},
		{"a device named", func(t *testing.T, data string) ([]string, []string) {
			return []string{"/dev/zero"}, []string{"/dev/zero"}
		}},
		{"a link to a device in a folder", func(t *testing.T, data string) ([]string, []string) {
			link := filepath.Join(data, "cats", "null.png")
			if err := os.Symlink("/dev/null", link); err != nil {
				t.Fatal(err)
			}
			return nil, []string{link}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			writeImages(t, data, 3)
			paths, fails := tc.setup(t, data)
			paths = append(paths, data)
			s, c := mustCollection(t, t.TempDir(), e)
			defer s.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				sum *Summary
				err error
			}
			done := make(chan result, 1)
			go func() {
				sum, err := Run(ctx, e, c, paths, &Options{Workers: 2})
				done <- result{sum, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				cancel()
				select {
				case <-done:
					t.Fatal("ingest was stuck for 20 s, until cancelled")
				case <-time.After(5 * time.Second):
					t.Fatal("ingest is stuck, and cancelling does not stop it")
				}
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			want := map[string]bool{}
			for _, p := range fails {
				want[p] = true
			}
			for _, f := range r.sum.Failures {
				if !want[f.Path] || f.Reason != "not a regular file" {
					t.Errorf("failure %s: %q", f.Path, f.Reason)
				}
				delete(want, f.Path)
			}
			if len(want) > 0 || r.sum.Ingested != 3 {
				t.Errorf("not reported: %v; summary %+v", want, r.sum)
			}
		})
	}
}
