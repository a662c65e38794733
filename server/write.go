package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/deeprank/deeprank/vectorstore"
)

// storedItem is an item as the upload and delete routes give it.
type storedItem struct {
	ID        string               `json:"id"`
	Path      string               `json:"path"`
	Metadata  vectorstore.Metadata `json:"metadata"`
	Image     string               `json:"image"`
	Thumbnail string               `json:"thumbnail"`
	// Created is false when the collection held the image already.
	Created bool `json:"created"`
}

// deleted is the answer to a delete.
type deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
	// FileRemoved says whether the image's file went too: only an upload's
	// does.
	FileRemoved bool `json:"file_removed"`
}

func toStored(name string, it vectorstore.Item, created bool) storedItem {
	img := "/v1/collections/" + name + "/images/" + it.ID
	return storedItem{ID: it.ID, Path: it.Metadata.Path, Metadata: it.Metadata, Image: img, Thumbnail: img + "/thumbnail", Created: created}
}

// writer opens the store for one write and gives collection name of it.
// The caller calls release when done.
func (s *Server) writer(ctx context.Context, name string) (vectorstore.Collection, func(), error) {
	if s.o.OpenWriter == nil {
		return nil, nil, &apiError{http.StatusForbidden, "read_only", "this server only reads the store"}
	}
	w, release, err := s.o.OpenWriter(ctx)
	if err != nil {
		return nil, nil, err
	}
	done := func() {
		if err := release(); err != nil {
			fmt.Fprintf(s.o.Log, "deeprank serve: release the store after a write: %v\n", err)
		}
	}
	c, err := w.Open(ctx, name)
	if err != nil {
		done()
		return nil, nil, err
	}
	return c, done, nil
}

// upload stores an uploaded image: its file in the upload folder, named by
// its id, and its vector in the collection. The same bytes again store
// nothing new: 200 with created false, where a new image gets 201.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	item, created, err := s.storeUpload(w, r, name)
	if err != nil {
		writeError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, toStored(name, item, created))
}

// storeUpload does the work of upload: the image of request r into
// collection name.
func (s *Server) storeUpload(w http.ResponseWriter, r *http.Request, name string) (vectorstore.Item, bool, error) {
	ctx := r.Context()
	if s.o.UploadDir == "" || s.o.OpenWriter == nil {
		return vectorstore.Item{}, false, &apiError{http.StatusForbidden, "uploads_disabled", "this server takes no uploads; set serve.upload_dir to a folder for them"}
	}
	reader, info, err := s.collectionInfo(ctx, name)
	if err != nil {
		return vectorstore.Item{}, false, err
	}
	if info.ModelVersion != s.emb.ModelVersion() {
		return vectorstore.Item{}, false, &apiError{http.StatusConflict, "model_mismatch",
			fmt.Sprintf("collection %s holds vectors of model %s, the server embeds with %s; serve with that model or reindex the collection", name, info.ModelVersion, s.emb.ModelVersion())}
	}
	if info.PerItem() != s.emb.PerItem() {
		return vectorstore.Item{}, false, &apiError{http.StatusConflict, "model_mismatch",
			fmt.Sprintf("collection %s stores %d vectors an image, the server %d (ingest.variants); serve with ingest.variants %v, as the collection was made, or reindex it", name, info.PerItem(), s.emb.PerItem(), info.PerItem() > 1)}
	}
	if info.Learned != s.emb.Learned() {
		return vectorstore.Item{}, false, &apiError{http.StatusConflict, "model_mismatch",
			fmt.Sprintf("collection %s does not record which of its values the model learned (made by an older deeprank); reindex it", name)}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "multipart/form-data" {
		return vectorstore.Item{}, false, badRequest("Content-Type %q: send multipart/form-data with an \"image\" file", ct)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxUploadBytes)
	data, filename, err := s.imagePart(r)
	if err != nil {
		return vectorstore.Item{}, false, err
	}
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	// Already stored: answered without embedding, and without the writer
	// lock, which an ingest may hold for long.
	if items, err := reader.Get(ctx, []string{id}); err != nil {
		return vectorstore.Item{}, false, err
	} else if len(items) == 1 {
		return items[0], false, nil
	}
	vector, in, err := s.embedItem(ctx, data)
	if err != nil {
		return vectorstore.Item{}, false, err
	}
	c, release, err := s.writer(ctx, name)
	if err != nil {
		return vectorstore.Item{}, false, err
	}
	defer release()
	// Checked again under the writer lock: another upload may have won.
	if items, err := c.Get(ctx, []string{id}); err != nil {
		return vectorstore.Item{}, false, err
	} else if len(items) == 1 {
		return items[0], false, nil
	}
	path, err := saveFile(s.o.UploadDir, id+uploadExt(filename), data)
	if err != nil {
		return vectorstore.Item{}, false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return vectorstore.Item{}, false, fmt.Errorf("upload folder: %w", err)
	}
	item := vectorstore.Item{ID: id, Vector: vector, Metadata: vectorstore.Metadata{Path: path, Size: int64(len(data)),
		Width: in.Width, Height: in.Height, ModTime: fi.ModTime().UTC(), Class: filepath.Base(filepath.Dir(path))}}
	if err := c.Upsert(ctx, s.emb.ModelVersion(), []vectorstore.Item{item}); err != nil {
		os.Remove(path) // no item names it
		return vectorstore.Item{}, false, err
	}
	item.Vector = nil
	return item, true, nil
}

// extRE is an extension kept from an upload's file name: a dot and a few
// letters or digits, nothing a shell or a path would read otherwise.
var extRE = regexp.MustCompile(`^\.[a-z0-9]{1,10}$`)

// uploadExt is the lower-case extension of an upload's file name, or none
// when it is not a plain one.
func uploadExt(filename string) string {
	ext := strings.ToLower(filepath.Ext(filename))
	if !extRE.MatchString(ext) {
		return ""
	}
	return ext
}

// saveFile writes data as dir/name and gives its absolute path: to a
// temporary file first, synced, then renamed, so that the name never holds
// part of an image.
func saveFile(dir, name string, data []byte) (path string, err error) {
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("upload folder (serve.upload_dir): %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return "", fmt.Errorf("upload folder (serve.upload_dir): %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("upload folder (serve.upload_dir): %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("upload folder (serve.upload_dir): %w", err)
	}
	path = filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("upload folder (serve.upload_dir): %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the rename durable; a folder that cannot sync still holds the file
		d.Close()
	}
	return filepath.Abs(path)
}

// deleteImage removes image id from collection name, and its file when
// the file is an upload (in the upload folder, named by the id); a file
// that ingest found elsewhere is never removed.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	ctx, name, id := r.Context(), r.PathValue("name"), r.PathValue("id")
	if _, err := s.collection(ctx, name); err != nil {
		writeError(w, err)
		return
	}
	if !vectorstore.ValidID(id) {
		writeError(w, badID(id))
		return
	}
	c, release, err := s.writer(ctx, name)
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	items, err := c.Get(ctx, []string{id})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(items) == 0 {
		writeError(w, notStored(id))
		return
	}
	if err := c.Delete(ctx, []string{id}); err != nil {
		writeError(w, err)
		return
	}
	removed := false
	if path := items[0].Metadata.Path; s.isUpload(path, id) {
		err := os.Remove(path)
		removed = err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(s.o.Log, "deeprank serve: remove the upload of deleted image %s: %v\n", id, err)
		}
	}
	writeJSON(w, http.StatusOK, deleted{ID: id, Deleted: true, FileRemoved: removed})
}

// isUpload reports whether path is a file that upload wrote for image id:
// directly in the upload folder and named by the id.
func (s *Server) isUpload(path, id string) bool {
	if s.o.UploadDir == "" {
		return false
	}
	dir, err := filepath.Abs(s.o.UploadDir)
	if err != nil {
		return false
	}
	base := filepath.Base(path)
	return filepath.Dir(filepath.Clean(path)) == dir && (base == id || strings.HasPrefix(base, id+"."))
}
