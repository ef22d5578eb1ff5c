package gateway

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// listing is a directory as the gateway lists it.
type listing struct {
	Name    string         `json:"name"`
	Entries []listingEntry `json:"entries"`
}

type listingEntry struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "file" or "directory"
	// Size is a file's size in bytes; 0 for a directory.
	Size int64 `json:"size"`
	// Ref opens the entry on its own; empty for an entry without a key.
	Ref string `json:"ref,omitempty"`
	// Href is the entry's URL relative to the listing.
	Href string `json:"href"`
}

// sizeParallel bounds the files of a listing whose size is read at once
// (reading it may fetch the last block of a file the reference uploaded).
const sizeParallel = 8

// directory answers a request for a directory: its index.html when it has
// one, else a listing in HTML, or in JSON when the client prefers it.
func (s *Server) directory(w *recorder, r *http.Request, req *request, d *meta.Directory) error {
	ctx := r.Context()
	f := s.opts.Fetcher
	entries, err := f.List(ctx, d)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if file, ok := e.Metadata.(*meta.File); ok && file.Name == "index.html" {
			return s.file(w, r, req, file)
		}
	}
	l := listing{Name: d.Name, Entries: make([]listingEntry, len(entries))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sizeParallel)
	for i, e := range entries {
		le := &l.Entries[i]
		le.Name = e.Name()
		// "./" keeps a name with a colon from reading as a URL scheme.
		le.Href = "./" + url.PathEscape(le.Name)
		if e.Key != nil {
			le.Ref = ref.Ref{Lookup: e.Lookup, Key: *e.Key}.String()
		}
		switch m := e.Metadata.(type) {
		case *meta.Directory:
			le.Kind, le.Href = "directory", le.Href+"/"
		case *meta.File:
			le.Kind = "file"
			g.Go(func() error {
				size, err := f.Size(gctx, m)
				le.Size = size
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	h := w.Header()
	s.setCaching(h, req)
	h.Add("Vary", "Accept")
	if prefersJSON(r.Header.Get("Accept")) {
		h.Set("Content-Type", "application/json; charset=utf-8")
		if r.Method == http.MethodHead {
			return nil
		}
		return json.NewEncoder(w).Encode(l)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return nil
	}
	return listingPage.Execute(w, struct {
		listing
		Parent bool
	}{l, req.path != ""})
}

// prefersJSON reports whether an Accept header asks for JSON before HTML.
func prefersJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		t, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.TrimSpace(t) {
		case "application/json":
			return true
		case "text/html", "application/xhtml+xml", "*/*":
			return false
		}
	}
	return false
}

var listingPage = template.Must(template.New("listing").Funcs(template.FuncMap{
	"size": humanSize,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Name}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1em .2em 0}td.size{text-align:right}</style>
</head><body>
<h1>{{.Name}}</h1>
<table>
{{if .Parent}}<tr><td><a href="../">../</a></td><td></td></tr>
{{end}}{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}{{if eq .Kind "directory"}}/{{end}}</a></td><td class="size">{{if eq .Kind "file"}}{{size .Size}}{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// humanSize writes n bytes in binary units: "512 B", "1.5 KiB", "3.0 GiB".
func humanSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(1024), 0
	for m := n / 1024; m >= 1024 && exp < len(units)-1; m /= 1024 {
		div *= 1024
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), units[exp])
}
