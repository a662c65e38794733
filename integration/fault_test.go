package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/jpeg"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/milvus"
	"github.com/deeprank/deeprank/vectorstore"
)

// TestUnreachable: with no Milvus at the address, the CLI fails within the
// connect timeout, saying what is wrong.
func TestUnreachable(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	photos, _ := samplePhotos(t)
	env := []string{"DEEPRANK_STORE_KIND=milvus", "DEEPRANK_STORE_MILVUS_ADDRESS=" + addr, "DEEPRANK_STORE_MILVUS_CONNECT_TIMEOUT=3s"}
	for _, args := range [][]string{{"ingest", "--collection", "photos", photos}, {"collections"}} {
		start := time.Now()
		out, code := run(t, env, args...)
		took := time.Since(start)
		expect(t, args[0]+" against nothing", out, code, 1, "milvus is unreachable")
		if took > 20*time.Second {
			t.Errorf("%s took %v to give up; the connect timeout is 3s", args[0], took)
		}
	}
}

// TestRestartMidIngest stops the Milvus container in the middle of an
// ingest and starts it again: the interrupted run fails with an error (no
// hang), and a re-run completes with every image stored exactly once.
func TestRestartMidIngest(t *testing.T) {
	dir, ids := jpegVariants(t, 4) // before the container: it may skip
	srv := startMilvus(t)
	srv.announce(t)
	ctx := context.Background()
	env := []string{"DEEPRANK_STORE_KIND=milvus", "DEEPRANK_STORE_MILVUS_REQUEST_TIMEOUT=15s"}
	addrEnv := func() string { return "DEEPRANK_STORE_MILVUS_ADDRESS=" + srv.address(t) }

	// Small batches and one worker, so the ingest is still running when
	// the server goes away.
	cmd := exec.Command(cli(t), "ingest", "--collection", "faults", "--batch-size", "8", "--workers", "1", dir)
	cmd.Env = append(os.Environ(), append(env, addrEnv())...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Stop the server once some, not all, images are stored.
	st := srv.open(t)
	stored := 0
	for deadline := time.Now().Add(2 * time.Minute); stored < 16; {
		if time.Now().After(deadline) {
			t.Fatalf("the ingest stored %d images in 2 minutes:\n%s", stored, out.String())
		}
		if c, err := st.Open(ctx, "faults"); err == nil {
			stored, _ = c.Count(ctx)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st.Close()
	if stored >= len(ids) {
		t.Fatalf("the ingest finished (%d images) before the server could be stopped", stored)
	}
	stopTimeout := 10 * time.Second
	if err := srv.c.Stop(ctx, &stopTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped milvus with %d of %d images stored", stored, len(ids))
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("the ingest succeeded though the server was stopped:\n%s", out.String())
		}
		t.Logf("the interrupted ingest failed as it should: %v; its last lines:\n%s", err, tail(out.String(), 3))
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the ingest hung after the server stopped:\n%s", out.String())
	}

	if err := srv.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv.waitServing(t, "faults")
	again, code := run(t, append(env, addrEnv()), "ingest", "--collection", "faults", dir)
	expect(t, "ingest after the restart", again, code, 0, "failed 0")

	st = srv.open(t)
	defer st.Close()
	c, err := st.Open(ctx, "faults")
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	if err := c.Scan(ctx, func(it vectorstore.Item) error { seen[it.ID]++; return nil }); err != nil {
		t.Fatal(err)
	}
	for id, k := range seen {
		if k > 1 {
			t.Errorf("image %s stored %d times", id, k)
		}
	}
	missing := 0
	for _, id := range ids {
		if seen[id] == 0 {
			missing++
		}
	}
	if n != len(ids) || len(seen) != len(ids) || missing > 0 {
		t.Fatalf("after the restart: count %d, %d distinct ids scanned, %d images missing; want %d, each once", n, len(seen), missing, len(ids))
	}
	t.Logf("after the restart: %d images, each stored once; the re-run said: %s", n, tail(again, 1))
}

// waitServing waits until the restarted server answers queries on the
// collection: its health check passes first, while the query nodes are
// still reloading and sessions of the old container expire.
func (s *server) waitServing(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	var last error
	for time.Since(start) < 3*time.Minute {
		cfg := s.config(t)
		cfg.RequestTimeout = 10 * time.Second
		st, err := milvus.Open(ctx, cfg)
		if err == nil {
			var c vectorstore.Collection
			if c, err = st.Open(ctx, name); err == nil {
				_, err = c.Count(ctx)
			}
			st.Close()
			if err == nil {
				t.Logf("milvus serves queries again %v after the restart", time.Since(start).Round(time.Second))
				return
			}
		}
		last = err
		time.Sleep(time.Second)
	}
	t.Fatalf("milvus still fails queries 3 minutes after the restart: %v", last)
}

// jpegVariants writes each sample photo re-encoded at k JPEG qualities:
// real images, k times as many, each with its own bytes (so its own id). It
// returns the folder and the ids.
func jpegVariants(t *testing.T, k int) (string, []string) {
	t.Helper()
	_, files := samplePhotos(t)
	dir := t.TempDir()
	var ids []string
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := imageio.Decode(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for q := range k {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 60 + 10*q}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, fmt.Sprintf("%04d-q%d.jpg", i, q))
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(buf.Bytes())
			ids = append(ids, hex.EncodeToString(sum[:]))
		}
	}
	return dir, ids
}

func tail(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}
