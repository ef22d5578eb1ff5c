package registry

import (
	"errors"
	"time"

	"github.com/mycdn/mycdn/meta"
)

// Paths of the API.
const (
	MetadataPath = "/api/v1/metadata"
	InfoPath     = "/api/v1/info"
	NamesPath    = "/api/v1/names"
)

// MaxNameBody is the largest body of a change to a name: a write with two
// full ACLs takes about 40 KiB of JSON.
const MaxNameBody = 64 << 10

// DefaultMaxBlobSize is the default largest blob a registry stores: 64 MiB,
// the metadata of a file of about 2 TiB in 5 MiB chunks over 5 shards.
const DefaultMaxBlobSize = 64 << 20

// MaxClockSkew is how far the time of a signed request may be from the
// server's clock, either way.
const MaxClockSkew = 300 * time.Second

// MultipartField is the form field of a POST that holds the blob.
const MultipartField = "data"

// Errors of the registry, for [errors.Is].
var (
	// ErrNotFound means no blob is stored under the hash.
	ErrNotFound = errors.New("blob not found")
	// ErrTooLarge means a blob is larger than the registry's limit.
	ErrTooLarge = errors.New("blob too large")
	// ErrHashMismatch means a blob does not hash to the hash it is stored
	// or asked for under.
	ErrHashMismatch = errors.New("blob does not hash to its lookup hash")
)

// BlobPath returns the path of the blob with lookup hash h.
func BlobPath(h meta.Hash) string { return MetadataPath + "/" + h.String() }

// NamePath returns the path of a name, which [names.Check] accepts.
func NamePath(name string) string { return NamesPath + "/" + name }

// Info is the JSON body of GET /api/v1/info.
type Info struct {
	// MaxBlobSize is the largest blob the registry stores, in bytes.
	MaxBlobSize int64 `json:"max_blob_size"`
	// Open is true when the registry accepts writes without credentials.
	Open bool `json:"open"`
	// AuthSchemes lists the Authorization schemes writes may use:
	// "Bearer" and "XEdDSA".
	AuthSchemes []string `json:"auth_schemes"`
	// MaxClockSkewSeconds is [MaxClockSkew] in seconds.
	MaxClockSkewSeconds int `json:"max_clock_skew_seconds"`
}

// HashResponse is the JSON body of a successful PUT or POST: the lookup hash
// the blob is stored under.
type HashResponse struct {
	Hash meta.Hash `json:"hash"`
}

// ErrorResponse is the JSON body of every error.
type ErrorResponse struct {
	Error string `json:"error"`
}
