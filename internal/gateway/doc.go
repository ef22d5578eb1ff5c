// Package gateway is the HTTP edge of mycdn: it answers requests for content
// by reference, fetching and verifying it through package fetch.
//
// URL forms (see docs/gateway.md):
//
//	http://<lookup>.<domain>/<path>?key=<key>   host form; the key is then kept in a cookie
//	http://<gateway>/<lookup>/<key>/<path>      path form
//	http://<gateway>/<lookup>?key=<key>         a file, or a redirect to the path form
//
// A request without a key never gets content, whatever the caches hold:
// metadata is cached under the key that opened it and blocks under their
// content hash, which only opened metadata reveals. Files are served with
// their media type, strong ETags, ranges and immutable caching; directories
// with their index.html, or a listing in HTML or JSON.
//
// No byte of a block is sent before the block is verified. The first block
// of a body is fetched before the status is sent, so that a request whose
// content is unavailable is answered with an error; when a later block
// fails, the connection is aborted, so that a client never takes a body cut
// short for a whole one.
package gateway
