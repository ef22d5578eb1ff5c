// Package seal derives keys from content and seals with AES-128-GCM: the
// chunks of files and metadata blobs.
//
// Every key is the hash of the plaintext it seals ([Sum], the first 16 bytes
// of BLAKE3), so identical plaintexts seal under identical keys and a reader
// who holds a key can check what it opened. Nonces are derived from the
// content by default ([ChunkNonces], [MetadataNonce]); [RandomNonce] gives the
// reference system's random ones.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/meta"
)

// Overhead is the number of bytes sealing adds to a chunk: the GCM tag.
const Overhead = 16

// Domain labels of the derived nonces.
const (
	chunkNonceLabel    = "mycdn-chunk-nonce-v1\x00"
	metadataNonceLabel = "mycdn-metadata-nonce-v1\x00"
)

// Errors of opening sealed data; each names the check that failed.
var (
	ErrTooShort       = errors.New("sealed data too short")
	ErrAuth           = errors.New("authentication failed: wrong key or nonce, or corrupt data")
	ErrLookupMismatch = errors.New("sealed metadata does not hash to its lookup hash")
	ErrKeyMismatch    = errors.New("opened metadata does not hash to its key")
)

// Sum returns blake3_16(b): the first 16 bytes of the BLAKE3 hash of b.
func Sum(b []byte) meta.Hash {
	d := blake3.Sum256(b)
	return meta.Hash(d[:16])
}

// Hasher computes [Sum] over data written to it in pieces.
// The zero value is not usable; call [NewHasher].
type Hasher struct{ h *blake3.Hasher }

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher { return &Hasher{blake3.New()} }

// Write adds p to the hashed data. It never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// Sum returns the hash of the data written so far.
func (h *Hasher) Sum() meta.Hash {
	var d [32]byte
	h.h.Sum(d[:0])
	return meta.Hash(d[:16])
}

// Reset empties h.
func (h *Hasher) Reset() { h.h.Reset() }

// ChunkKey returns the key of a plaintext chunk, [Sum] of it, and the whole
// 32-byte BLAKE3 digest it is the prefix of, which [ChunkNonces.Derive] takes.
func ChunkKey(plain []byte) (key meta.Hash, digest [32]byte) {
	digest = blake3.Sum256(plain)
	return meta.Hash(digest[:16]), digest
}

// ChunkNonces derives the nonces of the chunks of a file from their content
// and the file's layout: the number k of shards that rebuild a chunk and the
// ordered places (host and database) of its n shards:
//
//	nonce = BLAKE3("mycdn-chunk-nonce-v1\x00" || digest || u16be(k) || u16be(n) || bincode(places))[:12]
//
// where digest is the chunk's 32-byte BLAKE3 digest and places are the shard
// locations without their credentials, which may change without moving a
// shard. The same content under the same layout gets the same nonce, and so
// the same shards; binding the layout keeps one shard key (which depends only
// on the ciphertext) from needing two contents. A ChunkNonces is safe for
// concurrent use.
type ChunkNonces struct {
	layout []byte
}

// NewChunkNonces returns the nonce deriver of the layout (k, shards).
func NewChunkNonces(k int, shards []meta.ShardLocation) (*ChunkNonces, error) {
	if k < 1 || k > 0xffff || len(shards) > 0xffff {
		return nil, fmt.Errorf("seal: chunk nonces: bad layout k=%d n=%d", k, len(shards))
	}
	places := make([]meta.ShardLocation, len(shards))
	for i, s := range shards {
		places[i] = meta.ShardLocation{Host: s.Host, DB: s.DB}
	}
	layout := binary.BigEndian.AppendUint16(nil, uint16(k))
	layout = binary.BigEndian.AppendUint16(layout, uint16(len(shards)))
	layout, err := meta.AppendShardLocations(layout, places)
	if err != nil {
		return nil, fmt.Errorf("seal: chunk nonces: %w", err)
	}
	return &ChunkNonces{layout: layout}, nil
}

// Derive returns the nonce of the chunk whose BLAKE3 digest is digest.
func (c *ChunkNonces) Derive(digest *[32]byte) meta.Nonce {
	h := blake3.New()
	h.WriteString(chunkNonceLabel)
	h.Write(digest[:])
	h.Write(c.layout)
	var d [32]byte
	h.Sum(d[:0])
	return meta.Nonce(d[:12])
}

// MetadataNonce derives the nonce of a metadata blob from its content:
//
//	nonce = BLAKE3("mycdn-metadata-nonce-v1\x00" || blob)[:12]
func MetadataNonce(blob []byte) meta.Nonce {
	h := blake3.New()
	h.WriteString(metadataNonceLabel)
	h.Write(blob)
	var d [32]byte
	h.Sum(d[:0])
	return meta.Nonce(d[:12])
}

// RandomNonce returns a nonce from crypto/rand.
func RandomNonce() meta.Nonce {
	var n meta.Nonce
	rand.Read(n[:]) // never fails; it crashes the program instead
	return n
}

func gcm(key meta.Hash) cipher.AEAD {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err) // the standard nonce and tag sizes are always valid
	}
	return aead
}

// SealChunk appends to dst the chunk plain sealed with AES-128-GCM under key
// and nonce: the ciphertext then the 16-byte tag. key is [ChunkKey] of plain.
// dst and plain may not overlap unless dst[len(dst):] is exactly plain[:0].
func SealChunk(dst, plain []byte, key meta.Hash, nonce meta.Nonce) []byte {
	return gcm(key).Seal(dst, nonce[:], plain, nil)
}

// OpenChunk appends to dst the plaintext of a chunk sealed by [SealChunk],
// after checking its tag. It returns [ErrAuth] when the check fails.
func OpenChunk(dst, sealed []byte, key meta.Hash, nonce meta.Nonce) ([]byte, error) {
	if len(sealed) < Overhead {
		return dst, fmt.Errorf("seal: open chunk of %d bytes: %w", len(sealed), ErrTooShort)
	}
	out, err := gcm(key).Open(dst, nonce[:], sealed, nil)
	if err != nil {
		return dst, fmt.Errorf("seal: open chunk: %w", ErrAuth)
	}
	return out, nil
}

// SealMetadata seals a metadata blob under its own hash with nonce. It
// returns the sealed value stored in the registry (ciphertext, tag, nonce),
// its lookup hash ([Sum] of it) and the key ([Sum] of blob) that opens it.
func SealMetadata(blob []byte, nonce meta.Nonce) (sealed []byte, lookup, key meta.Hash) {
	key = Sum(blob)
	sealed = make([]byte, 0, len(blob)+Overhead+len(nonce))
	sealed = gcm(key).Seal(sealed, nonce[:], blob, nil)
	sealed = append(sealed, nonce[:]...)
	return sealed, Sum(sealed), key
}

// OpenMetadata checks sealed against its lookup hash, opens it with key, and
// checks the opened blob against key. The error says which check failed:
// [ErrLookupMismatch], [ErrAuth] or [ErrKeyMismatch].
func OpenMetadata(sealed []byte, lookup, key meta.Hash) ([]byte, error) {
	if got := Sum(sealed); got != lookup {
		return nil, fmt.Errorf("seal: open metadata %v: %w (got %v)", lookup, ErrLookupMismatch, got)
	}
	var nonce meta.Nonce
	if len(sealed) < Overhead+len(nonce) {
		return nil, fmt.Errorf("seal: open metadata %v of %d bytes: %w", lookup, len(sealed), ErrTooShort)
	}
	body := sealed[:len(sealed)-len(nonce)]
	copy(nonce[:], sealed[len(body):])
	blob, err := gcm(key).Open(nil, nonce[:], body, nil)
	if err != nil {
		return nil, fmt.Errorf("seal: open metadata %v: %w", lookup, ErrAuth)
	}
	if got := Sum(blob); got != key {
		return nil, fmt.Errorf("seal: open metadata %v: %w (got %v)", lookup, ErrKeyMismatch, got)
	}
	return blob, nil
}
