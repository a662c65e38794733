// Package server is the HTTP side of `deeprank serve`: a versioned JSON API
// to search, list and browse the collections of a vector store, and a web
// page over it.
//
// # API
//
//	GET  /healthz                                     200 when the store answers
//	GET  /metrics                                     Prometheus text format
//	GET  /v1/collections                              every collection served
//	GET  /v1/collections/{name}                       count, dimension, model version, metric
//	POST /v1/collections/{name}/search                multipart "image", or JSON {"id"} or {"vector"}
//	GET  /v1/collections/{name}/images/{id}           the stored image file
//	GET  /v1/collections/{name}/images/{id}/thumbnail a small JPEG of it
//	POST /v1/collections/{name}/images                multipart "image": store, embed, upsert
//	DELETE /v1/collections/{name}/images/{id}         remove it, and its file if an upload
//	GET  /v1/openapi.yaml                             openapi.yaml, which describes all this
//
// Errors are JSON {"error": {"code", "message"}}. With a token set, the API
// and /metrics need "Authorization: Bearer TOKEN"; the page and /healthz
// do not.
//
// # Caveats
//
// Only images stored in a collection are ever read from disk: an image is
// named by its id (the SHA-256 of its bytes), its path comes from the
// store, and the file is served only while its bytes still hash to the id.
//
// The server reads the store it is given. Over the embedded store opened
// read-only, each call catches up with what a writer in another process
// (deeprank ingest) has committed. It writes (an upload, a delete) only
// through Options.OpenWriter, which deeprank serve makes open the embedded
// store's writer for the one request: while another process holds it, the
// write gets 503 store_busy. An upload is stored once per content: its
// file is UploadDir/ID.EXT, and the same bytes again write nothing. A
// delete removes the file only when it is such an upload. A collection is opened on its first
// request and kept open; one made after the server started is served too,
// unless the server was limited to named collections.
//
// A relative path= prefix in a filter is taken from the server's current
// folder; clients should send absolute prefixes.
package server
