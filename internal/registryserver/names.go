package registryserver

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

// parseName checks the {name} of the path, answering 400 when it is bad.
func parseName(w *response, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if err := names.Check(name); err != nil {
		w.fail(http.StatusBadRequest, "%v", err)
		return "", false
	}
	return name, true
}

// getName answers the state of a name, a tombstone included.
func (s *Server) getName(w *response, r *http.Request) {
	name, ok := parseName(w, r)
	if !ok {
		return
	}
	ctx, cancel := s.storeCtx(r.Context())
	defer cancel()
	st, err := s.store.GetName(ctx, name)
	if errors.Is(err, names.ErrNotFound) {
		w.fail(http.StatusNotFound, "%v: %q", names.ErrNotFound, name)
		return
	}
	if err != nil {
		w.nameError(err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.json(http.StatusOK, st)
}

// changeName applies the signed change in the body to the name, and
// answers its new state. names.Apply checks the change against the state
// read; the store's compare and set makes sure the state has not changed
// since.
func (s *Server) changeName(w *response, r *http.Request) {
	name, ok := parseName(w, r)
	if !ok {
		return
	}
	if r.ContentLength > registry.MaxNameBody {
		w.fail(http.StatusRequestEntityTooLarge, "the body of %d bytes is over the limit of %d for a change to a name", r.ContentLength, registry.MaxNameBody)
		return
	}
	body, err := readBody(w, r, registry.MaxNameBody)
	if err != nil {
		w.bodyError(err, registry.MaxNameBody)
		return
	}
	var c names.Change
	if err := json.Unmarshal(body, &c); err != nil {
		w.fail(http.StatusBadRequest, "%v", err)
		return
	}
	if c.Name != name {
		w.fail(http.StatusBadRequest, "%v: the change's key %.80q is not the name in the path, %q", names.ErrInvalid, c.Name, name)
		return
	}
	w.who = c.Pub.Address().String()
	ctx, cancel := s.storeCtx(r.Context())
	defer cancel()
	var cur *names.State
	switch st, err := s.store.GetName(ctx, name); {
	case err == nil:
		cur = &st
	case !errors.Is(err, names.ErrNotFound):
		w.nameError(err)
		return
	}
	next, err := names.Apply(cur, &c)
	if err != nil {
		w.nameError(err)
		return
	}
	if cur == nil && !s.mayCreate(r, c.Pub) {
		w.fail(http.StatusForbidden, "%v: %v (%v) may not create names on this registry: creating one takes a key among the registry's writers, or a bearer token",
			names.ErrDenied, c.Pub.Address(), c.Pub)
		return
	}
	var prev uint32
	if cur != nil {
		prev = cur.Nonce
	}
	if err := s.store.SetName(ctx, prev, next); err != nil {
		if errors.Is(err, names.ErrConflict) {
			err = fmt.Errorf("%w: nonce %d of %q was taken by a concurrent change", names.ErrConflict, c.Nonce, name)
		}
		w.nameError(err)
		return
	}
	w.json(http.StatusOK, next)
}

// mayCreate reports whether a new name may be created by pub: on an open
// registry, by a writer of the registry, or with one of its bearer tokens.
// Changes to existing names follow their ACLs only.
func (s *Server) mayCreate(r *http.Request, pub xeddsa.PublicKey) bool {
	if s.opts.Open || s.writers[pub] {
		return true
	}
	a, err := registry.ParseAuth(r.Header.Get("Authorization"))
	return err == nil && a.Scheme == registry.SchemeBearer && s.tokens[sha256.Sum256([]byte(a.Token))]
}

// nameError answers an error of names.Apply or of the store.
func (w *response) nameError(err error) {
	switch {
	case errors.Is(err, names.ErrInvalid):
		w.fail(http.StatusBadRequest, "%v", err)
	case errors.Is(err, names.ErrBadSignature):
		w.unauthorized("%v: the signature covers %q and the change's canonical encoding (docs/registry.md)", err, names.Domain)
	case errors.Is(err, names.ErrDenied):
		w.fail(http.StatusForbidden, "%v", err)
	case errors.Is(err, names.ErrNotFound):
		w.fail(http.StatusNotFound, "%v", err)
	case errors.Is(err, names.ErrConflict):
		w.fail(http.StatusConflict, "%v", err)
	default:
		w.Header().Set("Retry-After", "1")
		w.fail(http.StatusServiceUnavailable, "store unavailable")
		w.err = err.Error()
	}
}
