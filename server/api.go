package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/queryfilter"
	"github.com/deeprank/deeprank/rerank"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// route is one pattern of the server's mux and its handler.
type route struct {
	pattern string
	handler http.Handler
}

// routeTable is every route but the catch-all; openapi.yaml describes
// each (a test holds them together).
func (s *Server) routeTable() []route {
	return []route{
		{"GET /{$}", http.HandlerFunc(s.page)},
		{"GET /static/", staticFiles()},
		{"GET /healthz", http.HandlerFunc(s.healthz)},
		{"GET /metrics", http.HandlerFunc(s.serveMetrics)},
		{"GET /v1/openapi.yaml", http.HandlerFunc(serveOpenAPI)},
		{"GET /v1/collections", http.HandlerFunc(s.listCollections)},
		{"GET /v1/collections/{name}", http.HandlerFunc(s.describeCollection)},
		{"POST /v1/collections/{name}/search", http.HandlerFunc(s.search)},
		{"POST /v1/collections/{name}/images", http.HandlerFunc(s.upload)},
		{"GET /v1/collections/{name}/images/{id}", http.HandlerFunc(s.image)},
		{"DELETE /v1/collections/{name}/images/{id}", http.HandlerFunc(s.deleteImage)},
		{"GET /v1/collections/{name}/images/{id}/thumbnail", http.HandlerFunc(s.thumbnail)},
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	for _, r := range s.routeTable() {
		m.Handle(r.pattern, r.handler)
	}
	m.HandleFunc("/", s.noRoute)
	s.mux = m
}

// noRoute answers what no route takes, in JSON: 405 when the path has a
// route for another method, else 404. (ServeMux answers 405 itself only
// when no pattern, this one included, takes the request.)
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		other := r.Clone(r.Context())
		other.Method = method
		if _, p := s.mux.Handler(other); method != r.Method && p != "/" && p != "" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, &apiError{http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))})
		return
	}
	writeError(w, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s; see the API in deeprank serve --help or GET /v1/openapi.yaml", r.Method, r.URL.Path)})
}

// apiError is an error with the status and code the API answers it with.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// asAPIError maps err to what the client is told. A store error that is
// not about the request is the store being unavailable (Milvus down, a
// damaged file): 503, with the store's message, so that an operator can
// act on it.
func asAPIError(err error) *apiError {
	var ae *apiError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &tooBig):
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request is over %d bytes (serve.max_upload_bytes); send a smaller image", tooBig.Limit)}
	case errors.Is(err, imageio.ErrTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", err.Error() + " (ingest.max_pixels); send a smaller image"}
	case errors.Is(err, imageio.ErrNotImage):
		return badRequest("%v; send a JPEG, PNG, GIF, WebP, BMP or TIFF image", err)
	case errors.Is(err, vectorstore.ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", err.Error() + "; GET /v1/collections lists them"}
	case errors.Is(err, vectorstore.ErrModelMismatch):
		return &apiError{http.StatusConflict, "model_mismatch", err.Error()}
	case errors.Is(err, vectorstore.ErrInvalid):
		return badRequest("%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "timeout", "the request took longer than serve.timeout; retry, or raise serve.timeout"}
	case errors.Is(err, embedded.ErrLocked):
		return &apiError{http.StatusServiceUnavailable, "store_busy",
			"another process (such as deeprank ingest) holds the store's writer lock; retry when it is done"}
	}
	return &apiError{http.StatusServiceUnavailable, "store_unavailable", err.Error()}
}

func writeError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	switch {
	case ae.code == "store_busy":
		w.Header().Set("Retry-After", "5") // an ingest writes for a while
	case ae.status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, ae.status, map[string]any{"error": map[string]string{"code": ae.code, "message": ae.message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // a failed write is the client gone: nothing to tell it
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.List(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// collectionInfo is a collection as the API describes it.
type collectionInfo struct {
	Name         string `json:"name"`
	Count        int    `json:"count"`
	Dim          int    `json:"dim"`
	ModelVersion string `json:"model_version"`
	Metric       string `json:"metric"`
}

func toInfo(i vectorstore.Info) collectionInfo {
	return collectionInfo{Name: i.Name, Count: i.Count, Dim: i.Dim, ModelVersion: i.ModelVersion, Metric: string(i.Metric)}
}

// infos describes the collections served.
func (s *Server) infos(ctx context.Context) ([]collectionInfo, error) {
	all, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []collectionInfo{}
	for _, i := range all {
		if s.served(i.Name) {
			out = append(out, toInfo(i))
		}
	}
	return out, nil
}

func (s *Server) listCollections(w http.ResponseWriter, r *http.Request) {
	infos, err := s.infos(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": infos})
}

// collectionInfo opens collection name and describes it.
func (s *Server) collectionInfo(ctx context.Context, name string) (vectorstore.Collection, vectorstore.Info, error) {
	c, err := s.collection(ctx, name)
	if err != nil {
		return nil, vectorstore.Info{}, err
	}
	info, err := c.Info(ctx)
	info.Name = name
	return c, info, err
}

func (s *Server) describeCollection(w http.ResponseWriter, r *http.Request) {
	_, info, err := s.collectionInfo(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toInfo(info))
}

// searchRequest is a search's parameters, from JSON or multipart fields.
type searchRequest struct {
	ID          string    `json:"id"`
	Vector      []float32 `json:"vector"`
	TopK        *int      `json:"top_k"`
	Filter      string    `json:"filter"`
	MaxDistance *float64  `json:"max_distance"`
	image       []byte
}

// result is one search hit as the API gives it.
type result struct {
	Rank      int                  `json:"rank"`
	ID        string               `json:"id"`
	Path      string               `json:"path"`
	Distance  float32              `json:"distance"`
	Metadata  vectorstore.Metadata `json:"metadata"`
	Image     string               `json:"image"`
	Thumbnail string               `json:"thumbnail"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, info, err := s.collectionInfo(r.Context(), name)
	if err != nil {
		writeError(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxUploadBytes)
	req, err := s.parseSearch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	version, vectors, picture, err := s.queryVectors(r.Context(), c, info, req)
	if err != nil {
		writeError(w, err)
		return
	}
	filter, err := queryfilter.Parse(req.Filter)
	if err != nil {
		writeError(w, badRequest("filter %q: %v", req.Filter, err))
		return
	}
	hits, err := s.o.Rerank.Search(*req.TopK, picture, info.Metric, s.emb.Picture, func(n int) ([]vectorstore.Hit, error) {
		hits, err := vectorstore.SearchAny(r.Context(), c, version, vectors, n, filter)
		if err != nil || req.MaxDistance == nil {
			return hits, err
		}
		// Nearest first: the rest are farther.
		return hits[:sort.Search(len(hits), func(i int) bool { return float64(hits[i].Distance) > *req.MaxDistance })], nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	results := []result{}
	for _, h := range hits {
		img := "/v1/collections/" + name + "/images/" + h.ID
		results = append(results, result{Rank: len(results) + 1, ID: h.ID, Path: h.Metadata.Path, Distance: h.Distance,
			Metadata: h.Metadata, Image: img, Thumbnail: img + "/thumbnail"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_version": version, "results": results})
}

// parseSearch reads a search request: a multipart form with an "image"
// file and optional top_k, filter and max_distance fields, or a JSON
// object.
func (s *Server) parseSearch(r *http.Request) (*searchRequest, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	req := &searchRequest{}
	switch ct {
	case "application/json":
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, err
			}
			return nil, badRequest("JSON body: %v; send {\"id\": ID} or {\"vector\": [...]}, with optional top_k, filter, max_distance", err)
		}
	case "multipart/form-data":
		var err error
		if req.image, _, err = s.imagePart(r); err != nil {
			return nil, err
		}
		if err := formFields(r, req); err != nil {
			return nil, err
		}
	default:
		return nil, badRequest("Content-Type %q: send multipart/form-data with an \"image\" file, or application/json", ct)
	}
	given := 0
	for _, b := range []bool{req.image != nil, req.ID != "", req.Vector != nil} {
		if b {
			given++
		}
	}
	if given != 1 {
		return nil, badRequest("give exactly one of an image upload, id or vector")
	}
	if req.TopK == nil {
		req.TopK = &s.o.TopK
	}
	if *req.TopK < 1 || *req.TopK > 10000 {
		return nil, badRequest("top_k %d is outside 1..10000", *req.TopK)
	}
	return req, nil
}

// imagePart reads the file part "image" of a multipart request, whose
// body the caller has bounded, and gives its bytes and file name.
func (s *Server) imagePart(r *http.Request) ([]byte, string, error) {
	if err := r.ParseMultipartForm(s.o.MaxUploadBytes); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, "", err
		}
		return nil, "", badRequest("multipart body: %v", err)
	}
	f, h, err := r.FormFile("image")
	if err != nil {
		return nil, "", badRequest("multipart body: no file part \"image\": %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, "", badRequest("read the image part: %v", err)
	}
	return data, h.Filename, nil
}

// formFields reads the multipart text fields top_k, filter and max_distance.
func formFields(r *http.Request, req *searchRequest) error {
	req.Filter = r.FormValue("filter")
	if v := r.FormValue("top_k"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil {
			return badRequest("top_k %q is not an integer", v)
		}
		req.TopK = &k
	}
	if v := r.FormValue("max_distance"); v != "" {
		d, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return badRequest("max_distance %q is not a number", v)
		}
		req.MaxDistance = &d
	}
	return nil
}

// queryVectors gives the vectors to search with and the model version
// they come from: an uploaded image's embedded now (its own, and its
// variants' with query.variants: embedQuery), a stored image's own
// vector, or the vector sent, taken to be of the collection's model. For
// an upload it also gives the image's picture, which re-ranks the hits;
// nil otherwise.
func (s *Server) queryVectors(ctx context.Context, c vectorstore.Collection, info vectorstore.Info, req *searchRequest) (string, [][]float32, *rerank.Picture, error) {
	switch {
	case req.image != nil:
		vectors, in, err := s.embedQuery(ctx, req.image)
		if err != nil {
			return "", nil, nil, err
		}
		return s.emb.ModelVersion(), vectors, in.Picture(), nil
	case req.ID != "":
		if !vectorstore.ValidID(req.ID) {
			return "", nil, nil, badID(req.ID)
		}
		items, err := c.Get(ctx, []string{req.ID})
		if err != nil {
			return "", nil, nil, err
		}
		if len(items) == 0 {
			return "", nil, nil, notStored(req.ID)
		}
		return info.ModelVersion, [][]float32{info.Own(items[0].Vector)}, nil, nil
	}
	if len(req.Vector) != info.Dim {
		return "", nil, nil, badRequest("vector has %d values; the collection's are %d long", len(req.Vector), info.Dim)
	}
	return info.ModelVersion, [][]float32{req.Vector}, nil, nil
}

// inSlot runs embed in an embedding slot, waiting for one unless the
// queue is full, and records how long it took.
func (s *Server) inSlot(ctx context.Context, embed func() error) error {
	if s.waiting.Add(1) > int64(s.o.Queue)+int64(cap(s.embeds)) {
		s.waiting.Add(-1)
		return &apiError{http.StatusServiceUnavailable, "busy", "too many images to embed at once; retry after a second"}
	}
	defer s.waiting.Add(-1)
	select {
	case s.embeds <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.embeds }()
	began := time.Now()
	if err := embed(); err != nil {
		return err
	}
	s.metrics.embedded(time.Since(began))
	return nil
}

// embedQuery embeds a query image in a slot (inSlot): its vectors, its
// own and with embedder.Options.QueryVariants its variants'
// (embedder.EmbedQueryVariants), and its decoded input.
func (s *Server) embedQuery(ctx context.Context, data []byte) ([][]float32, *embedder.Input, error) {
	return embedInSlot(ctx, s, data, s.emb.Decode, func(in *embedder.Input) [][]float32 {
		return s.emb.EmbedQueryVariants([]*embedder.Input{in})[0]
	})
}

// embedItem embeds an image to store in a slot (inSlot): its vectors, one
// after another (embedder.EmbedItems), and its decoded input, for the
// image's size.
func (s *Server) embedItem(ctx context.Context, data []byte) ([]float32, *embedder.Input, error) {
	return embedInSlot(ctx, s, data, s.emb.DecodeItem, func(in *embedder.Input) []float32 {
		return s.emb.EmbedItems([]*embedder.Input{in})[0]
	})
}

// embedInSlot decodes data and embeds its input in a slot (inSlot),
// returning what embed gives and the input.
func embedInSlot[V any](ctx context.Context, s *Server, data []byte, decode func([]byte) (*embedder.Input, error), embed func(*embedder.Input) V) (V, *embedder.Input, error) {
	var v V
	var in *embedder.Input
	err := s.inSlot(ctx, func() error {
		var err error
		if in, err = decode(data); err == nil {
			v = embed(in)
		}
		return err
	})
	return v, in, err
}

func badID(id string) *apiError {
	return badRequest("image id %.80q is not 64 lowercase hex characters (the SHA-256 of the file)", id)
}

func notStored(id string) *apiError {
	return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no image %s in this collection", id)}
}

// storedImage reads the file of image id of collection name: only an image
// the collection holds, from the path the store gives, only a regular file
// (a FIFO put there since would block the read, a device never end it) of
// at most MaxUploadBytes, and only while its bytes still hash to id.
func (s *Server) storedImage(ctx context.Context, name, id string) ([]byte, error) {
	c, err := s.collection(ctx, name)
	if err != nil {
		return nil, err
	}
	if !vectorstore.ValidID(id) {
		return nil, badID(id)
	}
	items, err := c.Get(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, notStored(id)
	}
	data, got, err := ingest.ReadImage(ctx, items[0].Metadata.Path, s.o.MaxUploadBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("image %s: its file is gone since ingest", id)}
	case errors.Is(err, ingest.ErrNotRegular):
		return nil, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("image %s: its path no longer names a regular file; run deeprank ingest again", id)}
	case errors.Is(err, ingest.ErrFileTooLarge):
		return nil, &apiError{http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("image %s: its file is over %d bytes (serve.max_upload_bytes), the most the server reads; raise serve.max_upload_bytes to serve it", id, s.o.MaxUploadBytes)}
	case errors.Is(err, ingest.ErrEmpty), errors.Is(err, imageio.ErrNotImage):
		got = "" // no longer the image stored: answered below
	case err != nil:
		return nil, err
	}
	if got != id {
		return nil, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("image %s: its file has changed since ingest; run deeprank ingest again", id)}
	}
	return data, nil
}

// cacheForever marks a response named by content (an image id): it never
// changes.
func cacheForever(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
}

func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	data, err := s.storedImage(r.Context(), r.PathValue("name"), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	// A stored file decoded as an image, but a polyglot may also sniff as
	// HTML: serve only image types as such, and nothing that may run.
	ct := http.DetectContentType(data)
	if !strings.HasPrefix(ct, "image/") {
		ct = "application/octet-stream"
		w.Header().Set("Content-Disposition", "attachment")
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	cacheForever(w)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (s *Server) thumbnail(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("name"), r.PathValue("id")
	jpg, err := s.cachedThumbnail(r.Context(), name, id)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	cacheForever(w)
	w.Write(jpg)
}

// cachedThumbnail gives the thumbnail of image id of collection name, from
// the cache while the collection still holds the image.
func (s *Server) cachedThumbnail(ctx context.Context, name, id string) ([]byte, error) {
	key := name + "/" + id
	if jpg, ok := s.thumbs.get(key); ok {
		c, err := s.collection(ctx, name)
		if err != nil {
			return nil, err
		}
		has, err := c.Has(ctx, []string{id})
		if err != nil {
			return nil, err
		}
		if !has[0] {
			return nil, notStored(id)
		}
		return jpg, nil
	}
	data, err := s.storedImage(ctx, name, id)
	if err != nil {
		return nil, err
	}
	jpg, err := s.makeThumbnail(ctx, data)
	if err != nil {
		return nil, err
	}
	s.thumbs.put(key, jpg)
	return jpg, nil
}
