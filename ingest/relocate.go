package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"slices"

	"github.com/deeprank/deeprank/vectorstore"
)

// relocate finds a live copy of every stored image whose stored path no
// longer exists, as when the first of two copies of a picture was deleted.
// stored maps item IDs to their stored metadata. relocate looks in the
// folders holding the stored paths, and their subfolders, for image files of
// a missing image's size, and returns the IDs whose bytes it found mapped to
// the path of a file holding them. Only files of a missing image's size are
// read; files that cannot be read are passed over. The error is ctx's.
func relocate(ctx context.Context, stored map[string]vectorstore.Metadata) (map[string]string, error) {
	missing := map[string]bool{}
	sizes := map[int64]bool{}
	folders := map[string]bool{}
	for id, m := range stored {
		folders[filepath.Dir(m.Path)] = true
		if gone(m.Path) {
			missing[id] = true
			sizes[m.Size] = true
		}
	}
	found := map[string]string{}
	if len(missing) == 0 {
		return found, nil
	}
	walk(ctx, outermost(folders), func(j job) {
		if len(found) == len(missing) || !sizes[j.info.Size()] {
			return
		}
		if id, err := hashFile(ctx, j.path); err == nil && missing[id] && found[id] == "" {
			found[id] = j.path
		}
	}, func(string, error) {})
	return found, ctx.Err()
}

// outermost lists the folders that are inside no other of folders, so that
// walking them walks every folder once.
func outermost(folders map[string]bool) []string {
	var out []string
	for f := range folders {
		inside := false
		for c, p := f, filepath.Dir(f); p != c && !inside; c, p = p, filepath.Dir(p) {
			inside = folders[p]
		}
		if !inside {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// hashFile returns the ID of the regular file at path: the hex SHA-256 of
// its bytes.
func hashFile(ctx context.Context, path string) (string, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
