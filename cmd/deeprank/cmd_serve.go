package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/server"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

type serveOptions struct {
	collections []string
}

// serveLong is the serve command's long help.
const serveLong = `Serve answers a JSON API and a web page (at /) to search, list and browse
the collections of the store. It reads the store: on the embedded store, it
runs beside a 'deeprank ingest' in another process and finds what that ingest
commits. An upload or a delete opens the store's writer for that request
alone; while another process (an ingest) holds it, they get 503 with
Retry-After. Uploads are kept in serve.upload_dir, named by content hash;
with no upload_dir set the server refuses uploads (403).

  GET  /healthz                                      200 when the store answers
  GET  /metrics                                      Prometheus text format
  GET  /v1/collections                               every collection served
  GET  /v1/collections/NAME                          count, dim, model version, metric
  POST /v1/collections/NAME/search                   multipart "image", or JSON {"id"} or {"vector"};
                                                     top_k, filter (as query --filter), max_distance
  GET  /v1/collections/NAME/images/ID                the stored image
  GET  /v1/collections/NAME/images/ID/thumbnail      a small JPEG of it
  POST /v1/collections/NAME/images                   multipart "image": store, embed, upsert
  DELETE /v1/collections/NAME/images/ID              remove it (and its file, if an upload)
  GET  /v1/openapi.yaml                              the OpenAPI description of all this

It listens on 127.0.0.1 unless told otherwise. Any other address needs a
token (key serve.token, env DEEPRANK_SERVE_TOKEN; not a flag, which other
users could see): API and /metrics requests then need
"Authorization: Bearer TOKEN". Ctrl-C or SIGTERM stops it after the requests
in flight finish; it exits 0 then.`

const serveExample = `  deeprank serve
  deeprank serve --addr 127.0.0.1:9000 --collection images --collection photos
  DEEPRANK_SERVE_TOKEN=s3cret deeprank serve --addr 0.0.0.0:8080`

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:     "serve",
		Short:   "Serve an HTTP API and a web page to search and browse collections",
		Long:    serveLong,
		Example: serveExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	f.String("addr", "", "host:port to listen on (key serve.addr, env DEEPRANK_SERVE_ADDR; default 127.0.0.1:8080); port 0 picks a free one")
	f.StringArrayVar(&o.collections, "collection", nil, "serve only this collection; give it again for more (default: every collection)")
	addStoreFlags(cmd)
	return cmd
}

// run serves the configured store until the command's context is done.
func (o *serveOptions) run(cmd *cobra.Command) error {
	l, err := loadRuntime(cmd, map[string]string{"serve.addr": "addr"})
	if err != nil {
		return err
	}
	c := l.Config
	if err := server.CheckAddr(c.Serve.Addr, c.Serve.Token); err != nil {
		return usagef("serve: %w", err)
	}
	emb, err := newEmbedder(c)
	if err != nil {
		return err
	}
	store, err := openStore(cmd, c, serveStore)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, name := range o.collections {
		if _, err := openCollection(cmd.Context(), store, name, c.StoreLocation()); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	uploads, err := uploadDir(c.Serve.UploadDir)
	if err != nil {
		return err
	}
	opts := &server.Options{Config: c.Serve, Collections: o.collections,
		MaxPixels: c.Ingest.MaxPixels, TopK: c.Query.TopK, Rerank: c.Query.Rerank, Log: cmd.ErrOrStderr(),
		OpenWriter: storeWriter(c, store, cmd.ErrOrStderr())}
	opts.UploadDir = uploads
	srv := server.New(store, emb, opts)
	ln, err := net.Listen("tcp", c.Serve.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	announceServe(cmd.ErrOrStderr(), o.collections, c, ln.Addr(), emb.ModelVersion())
	return srv.Serve(cmd.Context(), ln)
}

// announceServe says on w what is served where: the collections, the
// store, the address, whether a token is needed, and the model.
func announceServe(w io.Writer, collections []string, c config.Config, addr net.Addr, modelVersion string) {
	which := "every collection"
	if len(collections) > 0 {
		which = strings.Join(collections, ", ")
	}
	auth := "no token"
	if c.Serve.Token != "" {
		auth = "API requests need the token"
	}
	fmt.Fprintf(w, "deeprank: serving %s of %s on http://%s/ (%s, model %s)\n",
		which, c.StoreLocation(), addr, auth, modelVersion)
}

// uploadDir makes the upload folder, when one is set, and gives its
// absolute path: the server names uploads by it, and tells them apart from
// ingested files by it when deleting.
func uploadDir(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("serve.upload_dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("serve.upload_dir: %w; give a folder the server can write to", err)
	}
	return abs, nil
}

// uploadLockWait is how long an upload or a delete waits for another
// process's writer lock before it answers 503: a short write ends soon, an
// ingest does not.
const uploadLockWait = 2 * time.Second

// storeWriter gives the server its writes: on the embedded store, which
// the server holds read-only, a writer opened for the one request; on
// Milvus, the store it reads, which takes writes as it is.
func storeWriter(c config.Config, read vectorstore.Store, notices io.Writer) func(context.Context) (vectorstore.Store, func() error, error) {
	if c.Store.Kind == config.Milvus {
		return func(context.Context) (vectorstore.Store, func() error, error) {
			return read, func() error { return nil }, nil
		}
	}
	return func(context.Context) (vectorstore.Store, func() error, error) {
		w, err := embedded.Open(c.StoreDir(), &embedded.Options{CompactLogBytes: c.Store.CompactLogBytes, LockWait: uploadLockWait,
			Logf: func(format string, args ...any) { fmt.Fprintf(notices, "deeprank: "+format+"\n", args...) }})
		if err != nil {
			return nil, nil, err
		}
		return w, w.Close, nil
	}
}
