package registryserver

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// put stores the raw body under the hash of the path, which it must hash to.
func (s *Server) put(w *response, r *http.Request) {
	h, ok := parseHash(w, r)
	if !ok {
		return
	}
	auth, ok := s.authorize(w, r)
	if !ok {
		return
	}
	release, ok := s.reserve(w, r, s.opts.MaxBlobSize)
	if !ok {
		return
	}
	defer release()
	body, err := readBody(w, r, s.opts.MaxBlobSize)
	if err != nil {
		w.bodyError(err, s.opts.MaxBlobSize)
		return
	}
	sum := seal.Sum(body)
	if !s.verify(w, r, auth, sum) {
		return
	}
	if sum != h {
		w.fail(http.StatusBadRequest, "%v: the body hashes to %v, not to the hash in the path", registry.ErrHashMismatch, sum)
		return
	}
	s.storeBlob(w, r, h, body)
}

// post stores the multipart/form-data field "data" under its hash, as the
// reference does. The field's part may have no filename; other fields are
// ignored.
func (s *Server) post(w *response, r *http.Request) {
	auth, ok := s.authorize(w, r)
	if !ok {
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		w.fail(http.StatusBadRequest, "want a multipart/form-data body with a boundary, got Content-Type %.100q", r.Header.Get("Content-Type"))
		return
	}
	limit := s.opts.MaxBlobSize + multipartSlack
	release, ok := s.reserve(w, r, limit)
	if !ok {
		return
	}
	defer release()
	hasher := seal.NewHasher() // the signature covers the raw body
	body := io.TeeReader(http.MaxBytesReader(w.ResponseWriter, r.Body, limit), hasher)
	data, err := readField(multipart.NewReader(body, params["boundary"]), s.opts.MaxBlobSize)
	if err == nil {
		_, err = io.Copy(io.Discard, body) // the epilogue
	}
	if err != nil {
		w.bodyError(err, s.opts.MaxBlobSize)
		return
	}
	if !s.verify(w, r, auth, hasher.Sum()) {
		return
	}
	s.storeBlob(w, r, seal.Sum(data), data)
}

// errMultipart marks a malformed multipart body.
var errMultipart = errors.New("malformed multipart body")

// readField returns the content of the one part named
// [registry.MultipartField], at most limit bytes.
func readField(mr *multipart.Reader, limit int64) ([]byte, error) {
	var data []byte
	found := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, multipartError(err)
		}
		if p.FormName() != registry.MultipartField {
			if _, err := io.Copy(io.Discard, p); err != nil {
				return nil, multipartError(err)
			}
			continue
		}
		if found {
			return nil, fmt.Errorf("%w: field %q given twice", errMultipart, registry.MultipartField)
		}
		found = true
		if data, err = io.ReadAll(io.LimitReader(p, limit+1)); err != nil {
			return nil, multipartError(err)
		}
		if int64(len(data)) > limit {
			return nil, registry.ErrTooLarge
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no field %q", errMultipart, registry.MultipartField)
	}
	return data, nil
}

// multipartError marks err as errMultipart unless the body was too large.
func multipartError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return err
	}
	return fmt.Errorf("%w: %w", errMultipart, err)
}

// readBody reads the whole body, at most limit bytes.
func readBody(w *response, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(max(r.ContentLength, 0)) + bytes.MinRead)
	_, err := buf.ReadFrom(http.MaxBytesReader(w.ResponseWriter, r.Body, limit))
	return buf.Bytes(), err
}

// reserve waits for room for a body of at most limit bytes among the bodies
// being received, answering 413 when the announced length is over limit and
// 503 when no room comes in time. release gives the room back.
func (s *Server) reserve(w *response, r *http.Request, limit int64) (release func(), ok bool) {
	n := r.ContentLength
	if n > limit {
		w.fail(http.StatusRequestEntityTooLarge, "%v: the body of %d bytes is over the limit of %d", registry.ErrTooLarge, n, limit)
		return nil, false
	}
	if n < 0 {
		n = limit
	}
	ctx, cancel := s.storeCtx(r.Context())
	defer cancel()
	if err := s.inflight.Acquire(ctx, n); err != nil {
		w.Header().Set("Retry-After", "1")
		w.fail(http.StatusServiceUnavailable, "registry busy: too many uploads in progress")
		return nil, false
	}
	return func() { s.inflight.Release(n) }, true
}

// bodyError answers a body that could not be read.
func (w *response) bodyError(err error, limit int64) {
	_, tooLarge := errors.AsType[*http.MaxBytesError](err)
	switch {
	case tooLarge || errors.Is(err, registry.ErrTooLarge):
		w.fail(http.StatusRequestEntityTooLarge, "%v: over the limit of %d bytes", registry.ErrTooLarge, limit)
	case errors.Is(err, errMultipart):
		w.fail(http.StatusBadRequest, "%v", err)
	default:
		w.fail(http.StatusBadRequest, "reading the body: %v", err)
	}
}

// authorize checks the credentials of a write before its body is read: a
// known bearer token, or a signed request from a writer whose time is within
// [registry.MaxClockSkew] of ours. It returns the signature that [verify]
// checks once the body is read (nil when there is none), or answers 401 or
// 403 and returns false.
func (s *Server) authorize(w *response, r *http.Request) (*registry.Auth, bool) {
	if s.opts.Open {
		w.who = "open"
		return nil, true
	}
	v := r.Header.Get("Authorization")
	if v == "" {
		w.unauthorized("missing Authorization header: want \"Bearer <token>\" or \"XEdDSA pub=<64 hex>, ts=<unix seconds>, sig=<128 hex>\"")
		return nil, false
	}
	a, err := registry.ParseAuth(v)
	if err != nil {
		w.unauthorized("%v", err)
		return nil, false
	}
	if a.Scheme == registry.SchemeBearer {
		if !s.tokens[sha256.Sum256([]byte(a.Token))] {
			w.unauthorized("unknown bearer token")
			return nil, false
		}
		w.who = "token"
		return nil, true
	}
	w.who = a.Pub.Address().String()
	if skew := time.Now().Unix() - a.Time; max(skew, -skew) > int64(registry.MaxClockSkew/time.Second) {
		side := "behind"
		if skew < 0 {
			side = "ahead of"
		}
		w.unauthorized("request time %d is %d s %s the registry's clock, more than the %v allowed", a.Time, max(skew, -skew), side, registry.MaxClockSkew)
		return nil, false
	}
	if !s.writers[a.Pub] {
		w.fail(http.StatusForbidden, "identity %v (%v) is not a writer of this registry", a.Pub, a.Pub.Address())
		return nil, false
	}
	return &a, true
}

// verify checks the signature of a request, if it has one, over its body's
// hash, answering 401 when it does not verify.
func (s *Server) verify(w *response, r *http.Request, a *registry.Auth, body meta.Hash) bool {
	if a == nil || a.Verify(r.Method, r.URL.EscapedPath(), body) {
		return true
	}
	w.unauthorized("XEdDSA signature does not verify: it must cover %q with the body's hash and ts",
		registry.SigningDomain+"\n"+r.Method+"\n"+r.URL.EscapedPath())
	return false
}
