package registryserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/meta"
)

// response records what a request's log line and metrics need.
type response struct {
	http.ResponseWriter
	status int
	bytes  int64
	who    string // who wrote: "token", "open" or the writer's address
	hash   string // the lookup hash of the request
	err    string // why the request failed
}

func (w *response) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *response) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *response) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// json answers with status code and v in JSON.
func (w *response) json(code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the API's own types are marshalled
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// fail answers with status code and a JSON error.
func (w *response) fail(code int, format string, args ...any) {
	w.err = fmt.Sprintf(format, args...)
	w.json(code, registry.ErrorResponse{Error: w.err})
}

// unauthorized answers 401 with the schemes a write may use.
func (w *response) unauthorized(format string, args ...any) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="mycdn-registry", XEdDSA realm="mycdn-registry"`)
	w.fail(http.StatusUnauthorized, format, args...)
}

// storeError answers a store's error: 404 when the blob is absent, else
// 503, since the store could not answer, without its details.
func (w *response) storeError(err error, h meta.Hash) {
	if errors.Is(err, registry.ErrNotFound) {
		w.fail(http.StatusNotFound, "%v: %v", registry.ErrNotFound, h)
		return
	}
	w.Header().Set("Retry-After", "1")
	w.fail(http.StatusServiceUnavailable, "store unavailable")
	w.err = err.Error()
}

// ServeHTTP implements http.Handler: it serves the request, then logs one
// line and updates the metrics.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &response{ResponseWriter: rw}
	s.mux.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	d := time.Since(start)
	s.metrics.observe(r.Method, w.status, d)
	level := slog.LevelInfo
	if w.status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", w.status), slog.Int64("in", r.ContentLength), slog.Int64("out", w.bytes),
		slog.Duration("dur", d), slog.String("remote", r.RemoteAddr),
	}
	if w.who != "" {
		attrs = append(attrs, slog.String("who", w.who))
	}
	if w.err != "" {
		attrs = append(attrs, slog.String("err", w.err))
	}
	s.opts.Log.LogAttrs(r.Context(), level, "request", attrs...)
}
