package registry

import (
	"context"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/meta"
)

// Store keeps sealed metadata blobs under their lookup hashes, and the
// states of names.
//
// A Store is safe for concurrent use, by several processes too when its
// engine is shared (PostgreSQL). Every method honours the cancellation and
// deadline of ctx. Errors: Get and Stat return an error matching
// [ErrNotFound] when nothing is stored under the hash, GetName one matching
// [names.ErrNotFound] when the name has no state, SetName one matching
// [names.ErrConflict] when the stored nonce is not the one expected; any
// other error means the store could not answer, says why, and leaves the
// store as it was (a failed Put stores all of the blob or none of it,
// never part; a failed SetName leaves the old state).
type Store interface {
	// Put stores data under hash, which the caller has checked is
	// blake3_16(data). Blobs are immutable: when hash is already stored,
	// Put keeps the stored blob and returns nil, so storing a blob twice
	// keeps one copy. When Put returns nil the blob is on stable storage.
	// Put does not keep data after it returns.
	Put(ctx context.Context, hash meta.Hash, data []byte) error
	// Get returns the blob stored under hash in a new slice that the caller
	// owns.
	Get(ctx context.Context, hash meta.Hash) ([]byte, error)
	// Stat returns the size in bytes of the blob stored under hash.
	Stat(ctx context.Context, hash meta.Hash) (int64, error)
	// GetName returns the state of a name, in values that the caller owns.
	GetName(ctx context.Context, name string) (names.State, error)
	// SetName stores st as the state of st.Name if the name's stored nonce
	// is prev, prev 0 meaning that the name has no state yet: a compare and
	// set, atomic across every user of the store, so of two calls with the
	// same prev at most one succeeds. The caller has checked st with
	// [names.Apply]. When SetName returns nil the state is on stable
	// storage; it does not keep st's slices.
	SetName(ctx context.Context, prev uint32, st names.State) error
	// Ping returns nil when the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store. No method may be called after it.
	Close() error
}
