// Package registryserver serves the registry's HTTP API (see
// [registry]) over a [registry.Store]: public reads, authorized and
// size-limited writes of blobs, signed changes to names, JSON errors, one
// log line per request and Prometheus metrics.
package registryserver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

// multipartSlack is what a POST's body may hold beyond the blob: the
// boundaries and headers of its parts.
const multipartSlack = 64 << 10

// maxBlobSizeLimit is the largest MaxBlobSize: PostgreSQL's bytea holds
// at most 1 GB.
const maxBlobSizeLimit = 1 << 30

// Options configure a Server. The zero value serves with the defaults
// below and refuses every write.
type Options struct {
	// MaxBlobSize is the largest blob stored, in bytes (default
	// [registry.DefaultMaxBlobSize], at most 1 GiB). Larger bodies get 413.
	MaxBlobSize int64
	// Tokens are the bearer tokens that may write.
	Tokens []string
	// Writers are the X25519 identities that may write with signed
	// requests.
	Writers []xeddsa.PublicKey
	// Open lets anyone write, without credentials: for development only.
	Open bool
	// MaxInflightBytes bounds the memory that request bodies being
	// received hold together (default 4 requests of the largest size).
	// Writes wait for room, until their deadline.
	MaxInflightBytes int64
	// StoreTimeout bounds each call to the store (default 30 s).
	StoreTimeout time.Duration
	// ReadHeaderTimeout bounds the time to read a request's headers
	// (default 10 s); ReadTimeout bounds the time to read a whole request,
	// body included (default 2 min); WriteTimeout bounds the time from the
	// end of the request's headers to the end of the response (default
	// 2 min); IdleTimeout bounds how long a kept-alive connection waits for
	// its next request (default 2 min). Slow clients are disconnected.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Log gets one line per request and the server's start and stop
	// (default: discarded).
	Log *slog.Logger
	// Metrics, when set, gets the server's metrics.
	Metrics prometheus.Registerer
}

// Validate returns an error naming the first bad value of o, if any.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults returns o with defaults filled in, or an error naming a bad
// value.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBlobSize == 0 {
		o.MaxBlobSize = registry.DefaultMaxBlobSize
	}
	if o.MaxBlobSize < 0 || o.MaxBlobSize > maxBlobSizeLimit {
		return o, fmt.Errorf("max blob size %d out of range 1..%d", o.MaxBlobSize, maxBlobSizeLimit)
	}
	if o.MaxInflightBytes == 0 {
		o.MaxInflightBytes = 4 * (o.MaxBlobSize + multipartSlack)
	}
	if o.MaxInflightBytes < o.MaxBlobSize+multipartSlack {
		return o, fmt.Errorf("max inflight bytes %d below the largest request, %d", o.MaxInflightBytes, o.MaxBlobSize+multipartSlack)
	}
	for _, d := range []*time.Duration{&o.StoreTimeout, &o.ReadHeaderTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.IdleTimeout} {
		if *d < 0 {
			return o, fmt.Errorf("negative timeout %v", *d)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.StoreTimeout, 30*time.Second)
	def(&o.ReadHeaderTimeout, 10*time.Second)
	def(&o.ReadTimeout, 2*time.Minute)
	def(&o.WriteTimeout, 2*time.Minute)
	def(&o.IdleTimeout, 2*time.Minute)
	for _, tok := range o.Tokens {
		if a, err := registry.ParseAuth(registry.SchemeBearer + " " + tok); err != nil || a.Token != tok {
			return o, errors.New("a token is empty or holds spaces or commas")
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Server is an http.Handler serving the registry's API over a store. It is
// safe for concurrent use.
type Server struct {
	store    registry.Store
	opts     Options
	tokens   map[[sha256.Size]byte]bool // by hash, so lookups do not leak tokens by timing
	writers  map[xeddsa.PublicKey]bool
	inflight *semaphore.Weighted
	mux      *http.ServeMux
	metrics  *metrics
	info     []byte // the JSON body of /api/v1/info
}

// New returns a Server over store, which the caller closes after the
// server has stopped.
func New(store registry.Store, opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("registryserver: %w", err)
	}
	s := &Server{
		store:    store,
		opts:     opts,
		tokens:   map[[sha256.Size]byte]bool{},
		writers:  map[xeddsa.PublicKey]bool{},
		inflight: semaphore.NewWeighted(opts.MaxInflightBytes),
		mux:      http.NewServeMux(),
	}
	for _, tok := range opts.Tokens {
		s.tokens[sha256.Sum256([]byte(tok))] = true
	}
	for _, w := range opts.Writers {
		s.writers[w] = true
	}
	if s.metrics, err = newMetrics(opts.Metrics); err != nil {
		return nil, fmt.Errorf("registryserver: %w", err)
	}
	info := registry.Info{
		MaxBlobSize:         opts.MaxBlobSize,
		Open:                opts.Open,
		AuthSchemes:         []string{registry.SchemeBearer, registry.SchemeXEdDSA},
		MaxClockSkewSeconds: int(registry.MaxClockSkew / time.Second),
	}
	if s.info, err = json.Marshal(info); err != nil {
		return nil, fmt.Errorf("registryserver: %w", err)
	}
	s.route(registry.MetadataPath+"/{hash}", map[string]handler{
		http.MethodGet: s.get, http.MethodHead: s.head, http.MethodPut: s.put,
	})
	s.route(registry.MetadataPath, map[string]handler{http.MethodPost: s.post})
	s.route(registry.InfoPath, map[string]handler{http.MethodGet: s.getInfo, http.MethodHead: s.getInfo})
	s.route(registry.NamesPath+"/{name}", map[string]handler{http.MethodGet: s.getName, http.MethodPost: s.changeName})
	s.handle("/", func(w *response, r *http.Request) {
		w.fail(http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
	})
	return s, nil
}

// handler serves one request; it records what the log line needs in w.
type handler func(w *response, r *http.Request)

// handle serves pattern with h, given the *response that ServeHTTP made.
func (s *Server) handle(pattern string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { h(w.(*response), r) })
}

// route serves the methods of pattern, and 405 for any other.
func (s *Server) route(pattern string, methods map[string]handler) {
	allow := ""
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost} {
		if methods[m] != nil {
			allow += ", " + m
		}
	}
	allow = allow[2:]
	s.handle(pattern, func(w *response, r *http.Request) {
		h := methods[r.Method]
		if h == nil {
			w.Header().Set("Allow", allow)
			w.fail(http.StatusMethodNotAllowed, "method %s not allowed here (allowed: %s)", r.Method, allow)
			return
		}
		h(w, r)
	})
}

// Serve serves the API on ln until ctx is done, then shuts down gracefully,
// letting requests in progress finish for up to 10 s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(sctx)
	}()
	if s.opts.Open {
		s.opts.Log.Warn("OPEN REGISTRY: anyone who can reach it can write; use --open for development only")
	} else if len(s.tokens) == 0 && len(s.writers) == 0 {
		s.opts.Log.Warn("no tokens or writers configured: every write is refused")
	}
	s.opts.Log.Info("serving registry", "addr", ln.Addr().String(), "max_blob_size", s.opts.MaxBlobSize,
		"tokens", len(s.tokens), "writers", len(s.writers), "open", s.opts.Open)
	err := srv.Serve(ln)
	if !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("registry server: %w", err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("registry server shutdown: %w", err)
	}
	s.opts.Log.Info("registry stopped")
	return nil
}

// storeCtx bounds a call to the store, or a wait for it.
func (s *Server) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.StoreTimeout)
}

// parseHash parses the {hash} of the path, answering 400 when it is bad.
func parseHash(w *response, r *http.Request) (meta.Hash, bool) {
	h, err := meta.ParseHash(r.PathValue("hash"))
	if err != nil {
		w.fail(http.StatusBadRequest, "bad lookup hash %.80q: %v", r.PathValue("hash"), err)
		return h, false
	}
	w.hash = h.String()
	return h, true
}

func (s *Server) get(w *response, r *http.Request) {
	h, ok := parseHash(w, r)
	if !ok {
		return
	}
	ctx, cancel := s.storeCtx(r.Context())
	defer cancel()
	data, err := s.store.Get(ctx, h)
	if err != nil {
		w.storeError(err, h)
		return
	}
	blobHeaders(w, h, int64(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // a client that went away is in the log line
}

func (s *Server) head(w *response, r *http.Request) {
	h, ok := parseHash(w, r)
	if !ok {
		return
	}
	ctx, cancel := s.storeCtx(r.Context())
	defer cancel()
	n, err := s.store.Stat(ctx, h)
	if err != nil {
		w.storeError(err, h)
		return
	}
	blobHeaders(w, h, n)
	w.WriteHeader(http.StatusOK)
}

// blobHeaders sets the headers of a blob: content-addressed, so immutable.
func blobHeaders(w http.ResponseWriter, h meta.Hash, size int64) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set("ETag", `"`+h.String()+`"`)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
}

func (s *Server) getInfo(w *response, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.info)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.info)
}

// storeBlob stores a blob that a write brought, answering the request.
func (s *Server) storeBlob(w *response, r *http.Request, h meta.Hash, data []byte) {
	ctx, cancel := s.storeCtx(r.Context())
	defer cancel()
	if err := s.store.Put(ctx, h, data); err != nil {
		w.storeError(err, h)
		return
	}
	s.metrics.stored.Add(float64(len(data)))
	w.json(http.StatusOK, registry.HashResponse{Hash: h})
}
