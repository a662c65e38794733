package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/rerank"
	"github.com/deeprank/deeprank/vectorstore"
)

// ErrNeedsToken is returned by CheckAddr for an address that is not
// loopback when no token is set.
var ErrNeedsToken = errors.New("listening beyond loopback needs a token")

// Options tunes a Server. nil means defaults.
type Options struct {
	// Config is the serve section of the configuration, as deeprank serve
	// loads it; New does not use Addr.
	Config
	// Collections limits the server to these collections; none means all.
	Collections []string
	// MaxPixels bounds the images decoded for thumbnails (the embedder has
	// its own bound); 0 means 50 million.
	MaxPixels int64
	// TopK is the number of results when a search does not say; 0 means 10.
	TopK int
	// Rerank orders the nearest hits of a search by an image again, as
	// deeprank query does (package rerank); the zero value does not. New
	// takes it as it is: check it with its Validate method first, as
	// deeprank serve does on loading its configuration.
	Rerank rerank.Options
	// Log receives one line per request and the server's own errors; nil
	// discards them.
	Log io.Writer
	// OpenWriter opens the store for one write (an upload or a delete);
	// the server calls release when the write is done. nil refuses writes
	// with 403. Over the embedded store, which the server reads beside
	// `deeprank ingest`, it opens a writer for the request alone.
	OpenWriter func(ctx context.Context) (w vectorstore.Store, release func() error, err error)
}

// Server answers the API over one store and one embedder. It reads the
// store it is given, and does not close it; it writes (uploads, deletes)
// only through Options.OpenWriter.
type Server struct {
	store   vectorstore.Store
	emb     *embedder.Embedder
	o       Options
	embeds  chan struct{} // a slot per image being embedded
	waiting atomic.Int64  // searches waiting for a slot
	decodes chan struct{} // a slot per thumbnail being made
	thumbs  *thumbCache
	metrics *metrics
	mux     *http.ServeMux

	mu    sync.Mutex
	colls map[string]vectorstore.Collection
}

// New returns a server over store that embeds uploaded images with emb.
func New(store vectorstore.Store, emb *embedder.Embedder, opts *Options) *Server {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 32 << 20
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 50_000_000
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxEmbeds <= 0 {
		o.MaxEmbeds = runtime.GOMAXPROCS(0)
	}
	if o.TopK <= 0 {
		o.TopK = 10
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	s := &Server{
		store: store, emb: emb, o: o,
		embeds:  make(chan struct{}, o.MaxEmbeds),
		decodes: make(chan struct{}, runtime.GOMAXPROCS(0)),
		thumbs:  newThumbCache(o.ThumbnailCacheBytes),
		metrics: newMetrics(),
		colls:   map[string]vectorstore.Collection{},
	}
	s.routes()
	return s
}

// CheckAddr returns ErrNeedsToken when addr (host:port) may be reached
// from beyond this machine and token is empty. A host name other than
// localhost counts as beyond: it may resolve to anything.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w; give host:port such as 127.0.0.1:8080", addr, err)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s is not a loopback address; set serve.token (env DEEPRANK_SERVE_TOKEN) or listen on 127.0.0.1", ErrNeedsToken, addr)
}

// Serve answers requests on ln until ctx is done, then stops taking new
// ones and waits (up to the request timeout and 5 s more) for those in
// flight to finish. It returns nil after such a shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// The request context's timeout does not stop a client that sends
		// its body slowly; these bound the connection's reads and writes.
		ReadTimeout:  s.o.Timeout,
		WriteTimeout: s.o.Timeout + 5*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     log.New(s.o.Log, "deeprank serve: ", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), s.o.Timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	<-done // http.ErrServerClosed, now that Shutdown returned
	return nil
}

// Handler is the server's whole HTTP handler: logging and metrics, the
// request timeout, the token check, then the routes.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		_, route := s.mux.Handler(r)
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if s.needsToken(r) && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="deeprank"`)
			writeError(rw, &apiError{http.StatusUnauthorized, "unauthorized", `send the serve.token as "Authorization: Bearer TOKEN"`})
		} else {
			s.mux.ServeHTTP(rw, r)
		}
		took := time.Since(began)
		s.metrics.request(route, rw.status, took)
		fmt.Fprintf(s.o.Log, "%s %s %s %d %dB %s\n", began.UTC().Format(time.RFC3339), r.Method, r.URL.RequestURI(), rw.status, rw.bytes, took.Round(time.Microsecond))
	})
}

// needsToken reports whether r must carry the token: everything but the
// page, its files and /healthz, which reveal nothing stored.
func (s *Server) needsToken(r *http.Request) bool {
	if s.o.Token == "" {
		return false
	}
	p := r.URL.Path
	return strings.HasPrefix(p, "/v1/") || p == "/metrics"
}

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.o.Token)) == 1
}

// statusWriter remembers the status and size of a response, for the log
// and the metrics.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// served reports whether the server answers for collection name.
func (s *Server) served(name string) bool {
	return vectorstore.ValidName(name) && (len(s.o.Collections) == 0 || slices.Contains(s.o.Collections, name))
}

// collection opens name, once: an embedded collection opened read-only
// follows a writer's commits on each call.
func (s *Server) collection(ctx context.Context, name string) (vectorstore.Collection, error) {
	if !s.served(name) {
		return nil, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no collection %q here; GET /v1/collections lists them", name)}
	}
	s.mu.Lock()
	c, ok := s.colls[name]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	// Opened without the lock, which a slow store (Milvus) would hold
	// against every other collection; two first requests may both open.
	c, err := s.store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.colls[name]; ok {
		return first, nil
	}
	s.colls[name] = c
	return c, nil
}
