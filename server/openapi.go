package server

import (
	_ "embed"
	"net/http"
)

// openAPI describes the API; a test holds it to the routes.
//
//go:embed openapi.yaml
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}
