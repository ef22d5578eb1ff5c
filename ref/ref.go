// Package ref parses and formats mycdn references: what a reader needs to
// find and open content.
//
// A reference names sealed metadata by its lookup hash (its key in a
// registry) and carries the key that opens it. It has three written forms:
//
//	holo://<lookup>?key=<key>[&prefix=<p>]            the reference system's form
//	http(s)://<lookup>.<domain>/[path]?key=<key>      a gateway's host form
//	http(s)://<gateway>/<lookup>/<key>/[path]         a gateway's path form
//
// where <lookup> and <key> are exactly 32 hexadecimal characters each.
package ref

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/mycdn/mycdn/meta"
)

// Scheme is the scheme of the reference system's form.
const Scheme = "holo"

// ErrInvalid is wrapped by every error of [Parse].
var ErrInvalid = errors.New("invalid reference")

// Ref is a reference to sealed metadata.
type Ref struct {
	// Lookup is the hash of the sealed metadata: its key in the registry.
	Lookup meta.Hash
	// Key is the hash of the plaintext metadata, which opens it.
	Key meta.Hash
	// Prefix is the reference system's key_prefix (holo:// form only); the
	// mycdn registry does not use it.
	Prefix string
	// Path is a path inside a directory, without a leading slash (gateway
	// forms only).
	Path string
}

// String returns the holo:// form of r. Path is not part of that form.
func (r Ref) String() string {
	s := Scheme + "://" + r.Lookup.String() + "?key=" + r.Key.String()
	if r.Prefix != "" {
		s += "&prefix=" + escapePrefix(r.Prefix)
	}
	return s
}

// escapePrefix escapes what would change the meaning of a query value,
// leaving the rest as the reference system writes it ("a/b/", unescaped).
func escapePrefix(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("%&#+;=", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// PathURL returns r in the gateway's path form under base, such as
// "http://127.0.0.1:8080", with r.Path appended. Each path segment is
// escaped.
func (r Ref) PathURL(base string) string {
	return strings.TrimRight(base, "/") + "/" + r.Lookup.String() + "/" + r.Key.String() + "/" + escapePath(r.Path)
}

// HostURL returns r in the gateway's host form: scheme ("http" or "https")
// and domain, such as "cdn.example.org", with r.Path appended.
func (r Ref) HostURL(scheme, domain string) string {
	return scheme + "://" + r.Lookup.String() + "." + domain + "/" + escapePath(r.Path) + "?key=" + r.Key.String()
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Parse parses a reference in any of its forms. Parsing is strict: both
// hashes must be exactly 32 hexadecimal characters, holo:// takes no path and
// no query parameters but key and prefix, and every form needs the key.
func Parse(s string) (Ref, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Ref{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var r Ref
	switch u.Scheme {
	case Scheme:
		r, err = parseHolo(u)
	case "http", "https":
		r, err = parseHTTP(u)
	case "":
		err = errors.New("no scheme: want holo://, http:// or https://")
	default:
		err = fmt.Errorf("unknown scheme %q: want holo://, http:// or https://", u.Scheme)
	}
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalid, s, err)
	}
	return r, nil
}

func parseHolo(u *url.URL) (Ref, error) {
	if u.User != nil || u.Port() != "" || u.Path != "" || u.Opaque != "" || u.Fragment != "" {
		return Ref{}, errors.New("holo:// takes a lookup hash and a query, nothing else")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Ref{}, fmt.Errorf("query: %w", err)
	}
	for name, vals := range q {
		if (name != "key" && name != "prefix") || len(vals) != 1 {
			return Ref{}, fmt.Errorf("query parameter %q: want key once and prefix at most once", name)
		}
	}
	var r Ref
	if err := parseLookupKey(&r, u.Host, q); err != nil {
		return Ref{}, err
	}
	r.Prefix = q.Get("prefix")
	return r, nil
}

func parseHTTP(u *url.URL) (Ref, error) {
	var r Ref
	host := u.Hostname()
	if label, domain, ok := strings.Cut(host, "."); ok && len(label) == 32 && domain != "" {
		// Host form: <lookup>.<domain>/[path]?key=<key>
		if err := parseLookupKey(&r, label, u.Query()); err != nil {
			return Ref{}, err
		}
		r.Path = strings.TrimPrefix(u.Path, "/")
		return r, nil
	}
	// Path form: <gateway>/<lookup>/<key>/[path]
	segs := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 3)
	if len(segs) < 2 || len(segs[0]) != 32 {
		return Ref{}, errors.New("want http(s)://<lookup>.<domain>/?key=<key> or http(s)://<gateway>/<lookup>/<key>/")
	}
	var err error
	if r.Lookup, err = meta.ParseHash(segs[0]); err != nil {
		return Ref{}, fmt.Errorf("lookup hash: %w", err)
	}
	if r.Key, err = meta.ParseHash(segs[1]); err != nil {
		return Ref{}, fmt.Errorf("key: %w", err)
	}
	if len(segs) == 3 {
		r.Path = segs[2]
	}
	return r, nil
}

func parseLookupKey(r *Ref, lookup string, q url.Values) error {
	var err error
	if lookup == "" {
		return errors.New("no lookup hash")
	}
	if r.Lookup, err = meta.ParseHash(lookup); err != nil {
		return fmt.Errorf("lookup hash: %w", err)
	}
	key := q.Get("key")
	if key == "" {
		return errors.New("no key: add ?key=<32 hex characters>")
	}
	if r.Key, err = meta.ParseHash(key); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	return nil
}
