package service

import (
	"embed"
	"io/fs"
	"net/http"
)

// adminAssets are the admin page's files: plain HTML, CSS and JavaScript, no framework, no
// request leaving the listener.
//
//go:embed admin
var adminAssets embed.FS

// pageHandler serves the admin page and its assets.
func pageHandler() http.Handler {
	sub, err := fs.Sub(adminAssets, "admin")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
