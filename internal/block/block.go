// Package block turns a plaintext chunk into the n erasure-coded shards of a
// [meta.Block], and any k of those shards back into the verified plaintext:
// the per-block step that upload and fetch share.
//
// Encoding: key = blake3_16(plain); sealed = AES-128-GCM(key, nonce, plain);
// encrypted hash = blake3_16(sealed), the key of every shard in its store;
// then sealed is padded and coded by package erasure. Decoding rebuilds the
// sealed chunk, checks its encrypted hash, then opens it (which checks the
// GCM tag). Once both hold, the plaintext is what the uploader sealed.
package block

import (
	"errors"
	"fmt"

	"github.com/mycdn/mycdn/internal/erasure"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// Errors of [Decoder.Open] about the content, rather than the layout.
var (
	ErrCorrupt         = errors.New("rebuilt chunk does not match its encrypted hash: a shard is corrupt")
	ErrContentMismatch = errors.New("opened chunk does not match its content hash")
)

// NonceFunc chooses the nonce of chunk index of a file, given the nonce
// derived from its content and the file's layout ([seal.ChunkNonces]).
// A nil NonceFunc chooses the derived nonce.
type NonceFunc func(index int, derived meta.Nonce) (meta.Nonce, error)

// RandomNonces is a [NonceFunc] that ignores the derived nonce and picks a
// random one, as the reference system does.
func RandomNonces(int, meta.Nonce) (meta.Nonce, error) { return seal.RandomNonce(), nil }

// FixedNonces returns a [NonceFunc] that gives chunk i the nonce nonces[i],
// for reproducing known outputs. It fails for chunks beyond the list.
func FixedNonces(nonces ...meta.Nonce) NonceFunc {
	return func(i int, _ meta.Nonce) (meta.Nonce, error) {
		if i < 0 || i >= len(nonces) {
			return meta.Nonce{}, fmt.Errorf("block: no fixed nonce for chunk %d of %d", i, len(nonces))
		}
		return nonces[i], nil
	}
}

// Encoder seals and codes the chunks of files with one layout. It reuses one
// buffer across calls and is not safe for concurrent use; use one Encoder
// per goroutine.
type Encoder struct {
	coder  *erasure.Coder
	shards []meta.ShardLocation
	nonces *seal.ChunkNonces
	choose NonceFunc
	buf    []byte
	out    [][]byte
}

// NewEncoder returns an Encoder for chunks coded into len(shards) shards of
// which k rebuild a chunk, shard i stored at shards[i], with nonces chosen by
// choose (nil for derived nonces). The blocks it returns share shards, which
// the caller must not change afterwards.
func NewEncoder(k int, shards []meta.ShardLocation, choose NonceFunc) (*Encoder, error) {
	coder, err := erasure.New(k, len(shards))
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	nonces, err := seal.NewChunkNonces(k, shards)
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	return &Encoder{coder: coder, shards: shards, nonces: nonces, choose: choose}, nil
}

// Encode seals chunk index of a file and codes it into n shards. The block
// it returns has zero offsets, for the caller to set. The shards live in the
// Encoder's buffer and stay valid until the next call of Encode.
func (e *Encoder) Encode(index int, plain []byte) (meta.Block, [][]byte, error) {
	key, digest := seal.ChunkKey(plain)
	nonce := e.nonces.Derive(&digest)
	if e.choose != nil {
		var err error
		if nonce, err = e.choose(index, nonce); err != nil {
			return meta.Block{}, nil, err
		}
	}
	if need := e.coder.BufferSize(len(plain) + seal.Overhead); cap(e.buf) < need {
		e.buf = make([]byte, 0, need)
	}
	sealed := seal.SealChunk(e.buf[:0], plain, key, nonce)
	b := meta.Block{
		Shards:         e.shards,
		RequiredShards: uint16(e.coder.K()),
		ContentHash:    key,
		EncryptedHash:  seal.Sum(sealed),
		Nonce:          nonce,
	}
	var err error
	if e.out, err = e.coder.Encode(e.out, sealed); err != nil {
		return meta.Block{}, nil, fmt.Errorf("block: chunk %d: %w", index, err)
	}
	return b, e.out, nil
}

// Decoder rebuilds and opens blocks. It reuses one buffer across calls and
// is not safe for concurrent use.
type Decoder struct {
	// VerifyContent also checks each plaintext against its block's content
	// hash. The encrypted hash and the GCM tag already prove the plaintext
	// is what the uploader sealed; this re-hashes it anyway.
	VerifyContent bool
	buf           []byte
}

// Open rebuilds block b from shards (one entry per shard of b, nil or empty
// where missing, any RequiredShards of them present), verifies it and
// appends its plaintext to dst. It returns an error matching [ErrCorrupt]
// when a shard it used is corrupt: the caller may try other shards.
func (d *Decoder) Open(dst []byte, b *meta.Block, shards [][]byte) ([]byte, error) {
	coder, err := erasure.New(int(b.RequiredShards), len(b.Shards))
	if err != nil {
		return dst, fmt.Errorf("block %v: %w", b.EncryptedHash, err)
	}
	d.buf, err = coder.Join(d.buf[:0], shards)
	if errors.Is(err, erasure.ErrBadPadding) {
		return dst, fmt.Errorf("block %v: %w: %w", b.EncryptedHash, ErrCorrupt, err)
	}
	if err != nil {
		return dst, fmt.Errorf("block %v: %w", b.EncryptedHash, err)
	}
	if seal.Sum(d.buf) != b.EncryptedHash {
		return dst, fmt.Errorf("block %v: %w", b.EncryptedHash, ErrCorrupt)
	}
	start := len(dst)
	dst, err = seal.OpenChunk(dst, d.buf, b.ContentHash, b.Nonce)
	if err != nil {
		return dst, fmt.Errorf("block %v: %w", b.EncryptedHash, err)
	}
	if d.VerifyContent && seal.Sum(dst[start:]) != b.ContentHash {
		return dst[:start], fmt.Errorf("block %v: %w", b.EncryptedHash, ErrContentMismatch)
	}
	return dst, nil
}
