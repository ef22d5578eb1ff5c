package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/ref"
)

// Defaults of [Options].
const (
	DefaultBodyMemory        = 256 << 20
	DefaultBodyWait          = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultWriteTimeout      = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultNameTTL           = 15 * time.Second
)

// Options configure a [Server]. Zero values mean the defaults.
type Options struct {
	// Fetcher reads content; give it caches for a busy gateway.
	Fetcher *fetch.Fetcher
	// Domain enables the host form <lookup>.<Domain>; empty disables it.
	Domain string
	// BodyMemory bounds the memory of the blocks fetched for response
	// bodies, over all requests at once (as [fetch.Fetcher.ReaderMemory]
	// counts it). A request waits up to BodyWait for its share, then is
	// answered 503. Default [DefaultBodyMemory].
	BodyMemory int64
	// BodyWait is how long a request waits for body memory. Default
	// [DefaultBodyWait].
	BodyWait time.Duration
	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout the
	// whole request, IdleTimeout a kept-alive connection's wait for the next
	// one.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// WriteTimeout bounds writing a response's headers and each piece of
	// its body (at most 256 KiB), not the whole response, so that a large
	// download is never cut as long as the client keeps reading.
	WriteTimeout time.Duration
	// ShutdownTimeout is how long Serve lets requests in progress finish
	// once its context is done.
	ShutdownTimeout time.Duration
	// TLS, when set, makes Serve speak TLS (HTTP/1.1 and HTTP/2); without
	// it Serve speaks HTTP/1.1 and h2c (HTTP/2 with prior knowledge).
	TLS *tls.Config
	// Names, when set, resolves names (<name>.<Domain> and
	// /name/<name>/<path>) to the references they hold;
	// *registryclient.Client implements it. Without it names get 404.
	Names NameResolver
	// NameTTL is how long a resolved name is kept before it is asked
	// again (default [DefaultNameTTL]); responses reached through a name
	// may be cached as long, not for ever.
	NameTTL time.Duration
	// Log receives one line per request, without keys.
	Log *slog.Logger
	// Metrics, when set, counts requests, bytes and errors.
	Metrics *Metrics
}

// NameResolver resolves names to references.
type NameResolver interface {
	// Resolve returns the reference name holds, or an error matching
	// names.ErrNotFound.
	Resolve(ctx context.Context, name string) (ref.Ref, error)
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.Fetcher == nil {
		return errors.New("gateway: no fetcher")
	}
	if o.BodyMemory < 0 || o.BodyWait < 0 || o.ReadHeaderTimeout < 0 || o.ReadTimeout < 0 ||
		o.WriteTimeout < 0 || o.IdleTimeout < 0 || o.ShutdownTimeout < 0 {
		return errors.New("gateway: negative option")
	}
	if strings.ContainsAny(o.Domain, "/:@ ") {
		return fmt.Errorf("gateway: domain %q: want a host name such as cdn.example.com", o.Domain)
	}
	return nil
}

// Server answers HTTP requests for content. It is safe for concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	mem   *semaphore.Weighted
	names *nameCache
}

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.BodyWait, DefaultBodyWait)
	def(&opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&opts.ReadTimeout, DefaultReadTimeout)
	def(&opts.WriteTimeout, DefaultWriteTimeout)
	def(&opts.IdleTimeout, DefaultIdleTimeout)
	def(&opts.ShutdownTimeout, DefaultShutdownTimeout)
	def(&opts.NameTTL, DefaultNameTTL)
	if opts.BodyMemory == 0 {
		opts.BodyMemory = DefaultBodyMemory
	}
	opts.Domain = strings.Trim(strings.ToLower(opts.Domain), ".")
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics != nil {
		opts.Metrics.fetcher.Store(opts.Fetcher)
	}
	return &Server{opts: opts, log: log, mem: semaphore.NewWeighted(opts.BodyMemory),
		names: newNameCache(opts.Names, opts.NameTTL)}, nil
}

// httpError is an error with the status it answers and a short message for
// the client.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

// errBusy means a request waited too long for body memory.
var errBusy = errors.New("too busy: all body memory in use")

// ServeHTTP answers a request for content, and logs it in one line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := newRecorder(w, s.opts.WriteTimeout)
	h := rec.Header()
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	req, err := s.parse(rec, r)
	logPath := "-" // a path that did not parse may hold a key
	if req != nil {
		logPath = req.logPath
	}
	defer func() { s.logRequest(r, rec, logPath, time.Since(start), err) }()
	if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		err = errorf(http.StatusMethodNotAllowed, "method %s not allowed: use GET or HEAD", r.Method)
	}
	if err == nil {
		if req == nil {
			err = s.home(rec)
		} else {
			err = s.serve(rec, r, req)
		}
	}
	if err != nil {
		s.fail(rec, err)
	}
}

func (s *Server) logRequest(r *http.Request, rec *recorder, path string, took time.Duration, err error) {
	level := slog.LevelInfo
	if (rec.code >= 500 && rec.code != statusClientClosed) || (rec.aborted && rec.writeErr == nil && r.Context().Err() == nil) {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("host", hostOnly(r.Host)), slog.String("path", path),
		slog.Int("status", rec.code), slog.Int64("bytes", rec.bytes), slog.Duration("took", took.Round(time.Microsecond)),
		slog.String("remote", r.RemoteAddr), slog.String("proto", r.Proto),
	}
	if rec.aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
	if m := s.opts.Metrics; m != nil {
		m.observeRequest(r.Method, rec.code, rec.bytes, rec.aborted)
	}
}

// statusClientClosed is logged for requests whose client went away first.
const statusClientClosed = 499

// fail answers err, unless a response is under way: then the connection is
// aborted, so that a client never takes a cut body for a whole one.
func (s *Server) fail(w *recorder, err error) {
	if w.wrote {
		w.aborted = true
		panic(http.ErrAbortHandler)
	}
	code, msg := status(err)
	h := w.Header()
	for _, k := range []string{"Content-Length", "ETag", "Cache-Control", "Content-Type", "Content-Disposition", "Vary"} {
		h.Del(k)
	}
	if code != http.StatusRequestedRangeNotSatisfiable {
		h.Del("Content-Range")
	}
	if code == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
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
	case errors.Is(err, names.ErrNotFound), errors.Is(err, names.ErrInvalid):
		return http.StatusNotFound, "unknown name"
	case errors.Is(err, seal.ErrAuth):
		return http.StatusBadRequest, "the key does not open this reference"
	case errors.Is(err, fetch.ErrUnavailable):
		return http.StatusServiceUnavailable, "content temporarily unavailable: too few shard stores answered"
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, "gateway busy: try again shortly"
	case errors.Is(err, context.Canceled):
		return statusClientClosed, "request cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timed out fetching content"
	case errors.Is(err, seal.ErrLookupMismatch), errors.Is(err, seal.ErrKeyMismatch), errors.Is(err, seal.ErrTooShort),
		errors.Is(err, registry.ErrHashMismatch), errors.Is(err, fetch.ErrBadMetadata):
		return http.StatusBadGateway, "bad metadata in the registry"
	}
	return http.StatusBadGateway, "upstream error"
}

func (s *Server) home(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	msg := "mycdn gateway\n\nFetch content with /<lookup>/<key>/<path> or /<lookup>?key=<key>"
	if s.opts.Domain != "" {
		msg += ", or http(s)://<lookup>." + s.opts.Domain + "/<path>?key=<key>"
	}
	_, err := fmt.Fprint(w, msg+".\n")
	return err
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// writePiece is the most a recorder writes under one write deadline.
const writePiece = 256 << 10

// recorder notes the status and size of a response, and whether any of
// it, headers included, was sent. It renews the connection's write deadline
// before the headers and each piece of the body.
type recorder struct {
	http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	code     int
	bytes    int64
	wrote    bool
	aborted  bool
	writeErr error
}

func newRecorder(w http.ResponseWriter, timeout time.Duration) *recorder {
	return &recorder{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout, code: http.StatusOK}
}

func (r *recorder) renew() {
	_ = r.rc.SetWriteDeadline(time.Now().Add(r.timeout)) // a writer without deadlines just has none
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
		r.renew()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	written := 0
	for len(p) > 0 {
		piece := p[:min(len(p), writePiece)]
		r.renew()
		n, err := r.ResponseWriter.Write(piece)
		written += n
		r.bytes += int64(n)
		if err != nil {
			r.writeErr = err
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
