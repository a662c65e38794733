package server

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the page: plain files, no build step, nothing fetched from
// elsewhere, so that it works offline.
//
//go:embed web
var web embed.FS

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:")
	http.ServeFileFS(w, r, web, "web/index.html")
}

// staticFiles serves the page's script and style sheet under /static/.
func staticFiles() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic("server: embedded web folder: " + err.Error()) // cannot happen: the folder is embedded
	}
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}
