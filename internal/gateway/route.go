package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/meta"
)

// keyCookie holds the key of a host-form site, so that its relative links
// work without ?key=.
const keyCookie = "mycdn_key"

// form is how a request names its content.
type form int

const (
	pathForm form = iota // /<lookup>/<key>/<path>
	bareForm             // /<lookup>?key=<key>
	hostForm             // <lookup>.<domain>/<path>?key=<key>, or the key's cookie
)

// request is a parsed request for content.
type request struct {
	form        form
	lookup, key meta.Hash
	// name is set, instead of lookup and key, for <name>.<domain> and
	// /name/<name>/<path>: names are mutable references kept by the
	// registry, resolved by root.
	name string
	// path is the part after the root, without its leading slash.
	path string
	// base is the URL path of the root, ending in a slash.
	base string
	// slash is set for /<lookup>/<key> without its slash: redirected.
	slash bool
	// cookie is set when the key came from the cookie only: then responses
	// must not be kept by shared caches, which would give them to requests
	// without the cookie.
	cookie bool
	// logPath is the request's path without the key.
	logPath string
}

// parse finds what a request names: nil without error for the home page.
// It never puts a key in logPath or in an error.
func (s *Server) parse(w http.ResponseWriter, r *http.Request) (*request, error) {
	if label, ok := s.hostLabel(r.Host); ok {
		return parseHost(w, r, label)
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/")
	if !ok {
		return nil, errorf(http.StatusBadRequest, "bad request path")
	}
	if p == "" {
		return nil, nil
	}
	first, rest, more := strings.Cut(p, "/")
	if first == "name" && more {
		name, path, slash := strings.Cut(rest, "/")
		if names.Check(name) != nil {
			return nil, errorf(http.StatusBadRequest, "bad name: want a DNS label of a-z, 0-9 and -")
		}
		return &request{form: pathForm, name: name, path: path, base: "/name/" + name + "/", slash: !slash,
			logPath: r.URL.Path}, nil
	}
	if len(first) != 2*len(meta.Hash{}) {
		return nil, errorf(http.StatusNotFound, "not found: use /<lookup>/<key>/<path> or /<lookup>?key=<key>")
	}
	lookup, err := meta.ParseHash(first)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad lookup hash: want 32 hex characters")
	}
	if !more { // /<lookup>?key=<key>
		key, err := queryKey(r)
		if err != nil {
			return nil, err
		}
		return &request{form: bareForm, lookup: lookup, key: key, base: "/" + first + "/" + key.String() + "/",
			logPath: "/" + lookup.String()}, nil
	}
	keyHex, path, slash := strings.Cut(rest, "/")
	if keyHex == "" {
		return nil, errorf(http.StatusBadRequest, "missing key: use /<lookup>/<key>/<path>")
	}
	key, err := meta.ParseHash(keyHex)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad key: want 32 hex characters")
	}
	return &request{form: pathForm, lookup: lookup, key: key, path: path, base: "/" + first + "/" + keyHex + "/",
		slash: !slash, logPath: "/" + lookup.String() + "/<key>/" + path}, nil
}

// hostLabel returns the first label of a host under the gateway's domain.
func (s *Server) hostLabel(host string) (string, bool) {
	if s.opts.Domain == "" {
		return "", false
	}
	host = strings.TrimSuffix(strings.ToLower(hostOnly(host)), ".")
	label, ok := strings.CutSuffix(host, "."+s.opts.Domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// parseHost parses a host-form request. A key in the query is kept in a
// cookie for the host, which later requests without one use.
func parseHost(w http.ResponseWriter, r *http.Request, label string) (*request, error) {
	req := &request{form: hostForm, path: strings.TrimPrefix(r.URL.Path, "/"), base: "/", logPath: r.URL.Path}
	lookup, err := meta.ParseHash(label)
	switch {
	case err == nil:
		req.lookup = lookup
	case names.Check(label) == nil:
		req.name = label
		return req, nil
	default:
		return nil, errorf(http.StatusBadRequest, "bad host: want <32 hex lookup hash>.<domain>")
	}
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
		return nil, errorf(http.StatusBadRequest, "bad key in cookie: want 32 hex characters")
	}
	req.cookie = true
	return req, nil
}

func queryKey(r *http.Request) (meta.Hash, error) {
	k := r.URL.Query().Get("key")
	if k == "" {
		return meta.Hash{}, errorf(http.StatusBadRequest, "missing key: add ?key=<32 hex characters>")
	}
	key, err := meta.ParseHash(k)
	if err != nil {
		return meta.Hash{}, errorf(http.StatusBadRequest, "bad key: want 32 hex characters")
	}
	return key, nil
}

// root returns the metadata a request starts from: its reference's, or for
// a name the reference's that the name holds now.
func (s *Server) root(ctx context.Context, req *request) (meta.Metadata, error) {
	if req.name != "" {
		rf, err := s.names.resolve(ctx, req.name)
		if err != nil {
			return nil, err
		}
		req.lookup, req.key = rf.Lookup, rf.Key
	}
	return s.opts.Fetcher.Metadata(ctx, req.lookup, req.key)
}

// cacheControl is the Cache-Control of content: immutable for a reference,
// private when the key came from a cookie; through a name, which may point
// elsewhere soon, only as long as the name is kept resolved.
func (s *Server) cacheControl(req *request) string {
	switch {
	case req.name != "":
		return fmt.Sprintf("public, max-age=%d", int(s.opts.NameTTL.Seconds()))
	case req.cookie:
		return "private, max-age=31536000, immutable"
	}
	return "public, max-age=31536000, immutable"
}

// setCaching sets the caching headers of a response to req.
func (s *Server) setCaching(h http.Header, req *request) {
	h.Set("Cache-Control", s.cacheControl(req))
	if req.form == hostForm {
		h.Add("Vary", "Cookie")
	}
}

// serve answers a request for content.
func (s *Server) serve(w *recorder, r *http.Request, req *request) error {
	if req.slash {
		return redirect(w, r, req.base, r.URL.RawQuery)
	}
	ctx := r.Context()
	root, err := s.root(ctx, req)
	if err != nil {
		return err
	}
	m, err := s.opts.Fetcher.Resolve(ctx, root, req.path)
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case *meta.File:
		return s.file(w, r, req, m)
	case *meta.Directory:
		if req.form == bareForm { // to the path form, whose relative links work
			q := r.URL.Query()
			q.Del("key")
			return redirect(w, r, req.base, q.Encode())
		}
		if req.path != "" && !strings.HasSuffix(req.path, "/") {
			return redirect(w, r, r.URL.Path+"/", r.URL.RawQuery)
		}
		return s.directory(w, r, req, m)
	}
	return errorf(http.StatusBadGateway, "bad metadata in the registry")
}

// redirect sends the client to path, on this host, with the query.
func redirect(w http.ResponseWriter, r *http.Request, path, query string) error {
	// One leading slash: "//host/..." would send the client to another host.
	u := url.URL{Path: "/" + strings.TrimLeft(path, "/"), RawQuery: query}
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}
