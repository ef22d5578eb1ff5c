// Package gateway is the HTTP edge of mycdn: it answers requests for content
// by reference, fetching and verifying it through package fetch.
//
// URL forms (see ref):
//
//	http://<lookup>.<domain>/<path>?key=<key>   host form; the key is then kept in a cookie
//	http://<gateway>/<lookup>/<key>/<path>      path form
//	http://<gateway>/<lookup>?key=<key>         a file, or a redirect to the path form
//
// A request without a key never gets content. Files are served with their
// media type, strong ETags, ranges and immutable caching; directories with
// their index.html, or a listing in HTML or JSON.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// keyCookie holds the key of a host-form site, so that its relative links
// work without ?key=.
const keyCookie = "mycdn_key"

// Options configure a [Server].
type Options struct {
	// Fetcher reads content; give it caches for a busy gateway.
	Fetcher *fetch.Fetcher
	// Domain enables the host form <lookup>.<Domain>; empty disables it.
	Domain string
	// WriteTimeout bounds each write of a response body to a client; zero
	// means one minute.
	WriteTimeout time.Duration
	// Log receives one access line per request, without keys.
	Log *slog.Logger
	// Metrics, when set, counts requests, bytes and errors.
	Metrics *Metrics
}

// Server answers HTTP requests for content. It is safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Fetcher == nil {
		return nil, errors.New("gateway: no fetcher")
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = time.Minute
	}
	opts.Domain = strings.Trim(strings.ToLower(opts.Domain), ".")
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: log}, nil
}

// request is a parsed request for content.
type request struct {
	lookup, key meta.Hash
	// path is the part after the reference, without its leading slash.
	path string
	// base is the URL path of the reference's root, ending in a slash.
	base string
	// bare is set for /<lookup>?key=: a directory is redirected.
	bare bool
	// logPath is the request's path with the key left out.
	logPath string
}

// httpError is an error with the status it answers.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, code: http.StatusOK}
	h := rec.Header()
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	req, err := s.parse(rec, r)
	logPath := "-"
	if req != nil {
		logPath = req.logPath
	}
	defer func() {
		s.log.Info("request", "method", r.Method, "host", hostOnly(r.Host), "path", logPath,
			"status", rec.code, "bytes", rec.bytes, "took", time.Since(start).Round(time.Microsecond))
		if m := s.opts.Metrics; m != nil {
			m.observeRequest(r.Method, rec.code, rec.bytes)
		}
	}()
	if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		err = errorf(http.StatusMethodNotAllowed, "method %s not allowed: use GET or HEAD", r.Method)
	}
	if err == nil && req == nil {
		err = s.home(rec, r)
	} else if err == nil {
		err = s.serve(rec, r, req)
	}
	if err != nil {
		s.fail(rec, r, err)
	}
}

// fail answers err, unless a response is under way: then the connection is
// aborted, so that a client never takes a cut body for a whole one.
func (s *Server) fail(w *recorder, r *http.Request, err error) {
	if w.wrote {
		s.log.Warn("response aborted", "err", err)
		panic(http.ErrAbortHandler)
	}
	code, msg := status(err)
	if code >= 500 {
		s.log.Warn("request failed", "status", code, "err", err)
	}
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Range", "ETag", "Cache-Control", "Content-Type"} {
		h.Del(k)
	}
	h.Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}

// status maps an error to a status and a short message for the client.
func status(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.Is(err, registry.ErrNotFound):
		return http.StatusNotFound, "unknown reference"
	case errors.Is(err, fetch.ErrNoEntry):
		return http.StatusNotFound, "not found"
	case errors.Is(err, seal.ErrAuth), errors.Is(err, seal.ErrKeyMismatch):
		return http.StatusBadRequest, "the key does not open this reference"
	case errors.Is(err, fetch.ErrUnavailable):
		return http.StatusServiceUnavailable, "content temporarily unavailable: too few shard stores answered"
	case errors.Is(err, context.Canceled):
		return 499, "request cancelled"
	case errors.Is(err, seal.ErrLookupMismatch), errors.Is(err, fetch.ErrBadMetadata):
		return http.StatusBadGateway, "the registry returned bad metadata"
	}
	return http.StatusBadGateway, "upstream error"
}

// parse finds the reference in a request: nil without error for the home
// page.
func (s *Server) parse(w http.ResponseWriter, r *http.Request) (*request, error) {
	if label, ok := s.hostLabel(r.Host); ok {
		return s.parseHost(w, r, label)
	}
	p := r.URL.Path
	if p == "/" || p == "" {
		return nil, nil
	}
	segs := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(segs[0]) != 32 {
		return nil, errorf(http.StatusNotFound, "not found: use /<lookup>/<key>/ or /<lookup>?key=<key>")
	}
	lookup, err := meta.ParseHash(segs[0])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad lookup hash: %v", err)
	}
	if len(segs) == 1 { // /<lookup>?key=<key>
		key, err := queryKey(r)
		if err != nil {
			return nil, err
		}
		return &request{lookup: lookup, key: key, base: "/" + segs[0] + "/" + key.String() + "/", bare: true,
			logPath: "/" + segs[0]}, nil
	}
	key, err := meta.ParseHash(segs[1])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad key: %v", err)
	}
	req := &request{lookup: lookup, key: key, base: "/" + segs[0] + "/" + segs[1] + "/", logPath: "/" + segs[0] + "/<key>/"}
	if len(segs) == 3 {
		req.path = segs[2]
		req.logPath += segs[2]
	} else {
		req.path = "\x00" // /<lookup>/<key> without the slash: redirect
	}
	return req, nil
}

// hostLabel returns the first label of a host under the gateway's domain.
func (s *Server) hostLabel(host string) (string, bool) {
	if s.opts.Domain == "" {
		return "", false
	}
	host = strings.ToLower(hostOnly(host))
	label, ok := strings.CutSuffix(host, "."+s.opts.Domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

func (s *Server) parseHost(w http.ResponseWriter, r *http.Request, label string) (*request, error) {
	lookup, err := meta.ParseHash(label)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad lookup hash in host: %v", err)
	}
	req := &request{lookup: lookup, path: strings.TrimPrefix(r.URL.Path, "/"), base: "/", logPath: r.URL.Path}
	if r.URL.Query().Has("key") {
		if req.key, err = queryKey(r); err != nil {
			return nil, err
		}
		http.SetCookie(w, &http.Cookie{Name: keyCookie, Value: req.key.String(), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		return req, nil
	}
	c, err := r.Cookie(keyCookie)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "missing key: add ?key=<32 hex characters>")
	}
	if req.key, err = meta.ParseHash(c.Value); err != nil {
		return nil, errorf(http.StatusBadRequest, "bad key in cookie: %v", err)
	}
	return req, nil
}

func queryKey(r *http.Request) (meta.Hash, error) {
	k := r.URL.Query().Get("key")
	if k == "" {
		return meta.Hash{}, errorf(http.StatusBadRequest, "missing key: add ?key=<32 hex characters>")
	}
	key, err := meta.ParseHash(k)
	if err != nil {
		return meta.Hash{}, errorf(http.StatusBadRequest, "bad key: %v", err)
	}
	return key, nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// serve answers a request for content.
func (s *Server) serve(w *recorder, r *http.Request, req *request) error {
	ctx := r.Context()
	f := s.opts.Fetcher
	if req.path == "\x00" {
		return redirect(w, r, req.base)
	}
	root, err := f.Metadata(ctx, req.lookup, req.key)
	if err != nil {
		return err
	}
	m, err := f.Resolve(ctx, root, req.path)
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case *meta.File:
		return s.file(w, r, m)
	case *meta.Directory:
		if req.bare {
			return redirect(w, r, req.base)
		}
		if req.path != "" && !strings.HasSuffix(req.path, "/") {
			return redirect(w, r, r.URL.Path+"/")
		}
		return s.directory(w, r, req, m)
	}
	return errorf(http.StatusBadGateway, "unknown metadata")
}

// redirect sends the client to path, keeping the query.
func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	u := url.URL{Path: path, RawQuery: r.URL.RawQuery}
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}

func (s *Server) home(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprint(w, "mycdn gateway\n\nFetch content with /<lookup>/<key>/<path> or /<lookup>?key=<key>.\n")
	return err
}

// recorder notes the status and size of a response, and whether any of it,
// headers included, was sent.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	r.code, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
