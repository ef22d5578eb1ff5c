// Package registry defines the metadata registry shared by its server, its
// client and its stores: the HTTP API's paths and JSON bodies, the
// Authorization header of writes, and the [Store] interface every storage
// engine implements.
//
// The registry keeps sealed metadata blobs under their lookup hash,
// blake3_16 of the blob, and names that point at references. Reads are public, since the blobs are encrypted;
// writes carry a bearer token or an XEdDSA signature (see [Auth]). The API,
// documented in docs/registry.md:
//
//	GET  /api/v1/metadata/{32 hex}  the blob; 404 when absent
//	HEAD /api/v1/metadata/{32 hex}  its size in Content-Length
//	PUT  /api/v1/metadata/{32 hex}  store the raw body, which must hash to the path
//	POST /api/v1/metadata           store multipart field "data" under its hash
//	GET  /api/v1/info               limits, as [Info]
//	GET  /api/v1/names/{name}       the name's state, a [names.State]; 404 when never written
//	POST /api/v1/names/{name}       apply a signed [names.Change]; answers the new state
//
// Names are mutable: see package names for their rules. Errors are answered
// with a JSON [ErrorResponse].
package registry
