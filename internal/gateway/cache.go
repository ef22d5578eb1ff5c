package gateway

import (
	"github.com/mycdn/mycdn/internal/cache"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// Caches keeps verified blocks and opened metadata for a fetch.Fetcher:
// plaintext blocks and metadata in memory, and optionally the sealed blocks
// (never plaintext) in a directory. Every entry is keyed by the secret that
// opens it, so only a request holding the key can hit it.
type Caches struct {
	blocks *cache.LRU[[2]meta.Hash, []byte]
	meta   *cache.LRU[[2]meta.Hash, meta.Metadata]
	disk   *cache.Dir
}

// NewCaches returns caches holding up to memBytes in memory (a tenth of it
// for metadata) and, when disk is not nil, sealed blocks on disk.
func NewCaches(memBytes int64, disk *cache.Dir) *Caches {
	return &Caches{
		blocks: cache.NewLRU[[2]meta.Hash, []byte](memBytes-memBytes/10, nil),
		meta:   cache.NewLRU[[2]meta.Hash, meta.Metadata](memBytes/10, nil),
		disk:   disk,
	}
}

func blockKey(b *meta.Block) [2]meta.Hash { return [2]meta.Hash{b.ContentHash, b.EncryptedHash} }

// GetBlock appends the plaintext of b to dst: from memory, or from disk after
// checking and opening the sealed block.
func (c *Caches) GetBlock(b *meta.Block, dst []byte) ([]byte, bool) {
	if plain, ok := c.blocks.Get(blockKey(b)); ok {
		return append(dst, plain...), true
	}
	if c.disk == nil {
		return dst, false
	}
	sealed, ok := c.disk.Get(b.EncryptedHash.String())
	if !ok || seal.Sum(sealed) != b.EncryptedHash {
		return dst, false
	}
	out, err := seal.OpenChunk(dst, sealed, b.ContentHash, b.Nonce)
	if err != nil {
		return dst, false
	}
	c.blocks.Add(blockKey(b), append([]byte(nil), out[len(dst):]...), int64(len(out)-len(dst)))
	return out, true
}

// AddBlock keeps a copy of the verified plaintext of b, and its sealed form on
// disk.
func (c *Caches) AddBlock(b *meta.Block, plain []byte) {
	c.blocks.Add(blockKey(b), append([]byte(nil), plain...), int64(len(plain)))
	if c.disk != nil {
		// Sealing again gives the exact sealed chunk: same key, same nonce.
		_ = c.disk.Put(b.EncryptedHash.String(), seal.SealChunk(nil, plain, b.ContentHash, b.Nonce)) // a cache that cannot write is only slower
	}
}

func metaKey(lookup meta.Hash, key *meta.Hash) [2]meta.Hash {
	k := [2]meta.Hash{lookup}
	if key != nil {
		k[1] = *key
	}
	return k
}

// GetMetadata returns the metadata opened from lookup with key.
func (c *Caches) GetMetadata(lookup meta.Hash, key *meta.Hash) (meta.Metadata, bool) {
	return c.meta.Get(metaKey(lookup, key))
}

// AddMetadata keeps opened metadata.
func (c *Caches) AddMetadata(lookup meta.Hash, key *meta.Hash, m meta.Metadata, size int) {
	c.meta.Add(metaKey(lookup, key), m, int64(size))
}

// Stats returns the hits and misses of all caches.
func (c *Caches) Stats() (hits, misses int64) {
	_, _, h1, m1 := c.blocks.Stats()
	_, _, h2, m2 := c.meta.Stats()
	return h1 + h2, m1 + m2
}
