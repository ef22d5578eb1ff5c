package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/mycdn/mycdn/internal/cache"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// metadataCost is how many times its encoding opened metadata is taken to
// use in memory (a block's 135 encoded bytes with n = 5 take about 350).
const metadataCost = 3

// diskQueue bounds the blocks waiting to be written to the disk cache; a
// block that finds the queue full is not written.
const diskQueue = 4

// Caches keeps verified blocks and opened metadata for a [fetch.Fetcher]
// (it is both a fetch.BlockCache and a fetch.MetadataCache): plaintext
// blocks and metadata in memory, and optionally the sealed blocks, never
// plaintext, in a directory. Every entry is keyed by the secret that opens
// it (blocks by their content hash, metadata by its key), so only a request
// that holds the key can hit it. It is safe for concurrent use.
type Caches struct {
	blocks *cache.LRU[[2]meta.Hash, []byte]
	meta   *cache.LRU[[2]meta.Hash, meta.Metadata]

	disk                 *cache.Dir
	diskHits, diskMisses atomic.Int64
	mu                   sync.Mutex // guards closing writes
	writes               chan diskWrite
	closed               bool
	written              chan struct{}
}

type diskWrite struct {
	encrypted, key meta.Hash
	nonce          meta.Nonce
	plain          []byte // shared with the memory cache: never modified
}

// NewCaches returns caches holding up to memBytes in memory (a tenth of it
// for metadata) and, when disk is not nil, sealed blocks in disk. Close
// stops the disk writer.
func NewCaches(memBytes int64, disk *cache.Dir) *Caches {
	c := &Caches{
		blocks: cache.NewLRU[[2]meta.Hash, []byte](memBytes-memBytes/10, nil),
		meta:   cache.NewLRU[[2]meta.Hash, meta.Metadata](memBytes/10, nil),
		disk:   disk,
	}
	if disk != nil {
		c.writes = make(chan diskWrite, diskQueue)
		c.written = make(chan struct{})
		go c.writeDisk()
	}
	return c
}

// Close writes the blocks still queued for the disk cache and stops its
// writer. Blocks added later are kept in memory only.
func (c *Caches) Close() {
	c.mu.Lock()
	if c.disk == nil || c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.writes)
	c.mu.Unlock()
	<-c.written
}

func blockKey(b *meta.Block) [2]meta.Hash { return [2]meta.Hash{b.ContentHash, b.EncryptedHash} }

// GetBlock appends the plaintext of b to dst: from memory, or from disk after
// checking the sealed block against its hash and opening it.
func (c *Caches) GetBlock(b *meta.Block, dst []byte) ([]byte, bool) {
	if plain, ok := c.blocks.Get(blockKey(b)); ok {
		return append(dst, plain...), true
	}
	if c.disk == nil {
		return dst, false
	}
	sealed, ok := c.disk.Get(b.EncryptedHash.String())
	if !ok || seal.Sum(sealed) != b.EncryptedHash {
		c.diskMisses.Add(1)
		return dst, false
	}
	out, err := seal.OpenChunk(dst, sealed, b.ContentHash, b.Nonce)
	if err != nil {
		c.diskMisses.Add(1)
		return dst, false
	}
	c.diskHits.Add(1)
	c.blocks.Add(blockKey(b), append([]byte(nil), out[len(dst):]...), int64(len(out)-len(dst)))
	return out, true
}

// AddBlock keeps a copy of the verified plaintext of b in memory, and
// queues it to be sealed again and written to disk.
func (c *Caches) AddBlock(b *meta.Block, plain []byte) {
	kept := append([]byte(nil), plain...)
	c.blocks.Add(blockKey(b), kept, int64(len(kept)))
	if c.disk == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.writes <- diskWrite{b.EncryptedHash, b.ContentHash, b.Nonce, kept}:
	default: // the disk is behind: this block stays in memory only
	}
}

// writeDisk seals queued blocks and writes them to the disk cache. Sealing
// again gives the exact sealed chunk the stores hold: same key, same nonce.
func (c *Caches) writeDisk() {
	defer close(c.written)
	var buf []byte
	for w := range c.writes {
		buf = seal.SealChunk(buf[:0], w.plain, w.key, w.nonce)
		_ = c.disk.Put(w.encrypted.String(), buf) // a cache that cannot write is only slower
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

// AddMetadata keeps opened metadata whose encoding took size bytes.
func (c *Caches) AddMetadata(lookup meta.Hash, key *meta.Hash, m meta.Metadata, size int) {
	c.meta.Add(metaKey(lookup, key), m, metadataCost*int64(size))
}

// CacheStats are the counters of [Caches].
type CacheStats struct {
	// Hits and misses of each cache; a block missed in memory is looked up
	// on disk, when there is a disk cache.
	BlockHits, BlockMisses, MetadataHits, MetadataMisses, DiskHits, DiskMisses int64
	// Bytes held by each cache.
	BlockBytes, MetadataBytes, DiskBytes int64
}

// Stats returns the caches' counters.
func (c *Caches) Stats() CacheStats {
	var s CacheStats
	_, s.BlockBytes, s.BlockHits, s.BlockMisses = c.blocks.Stats()
	_, s.MetadataBytes, s.MetadataHits, s.MetadataMisses = c.meta.Stats()
	if c.disk != nil {
		s.DiskHits, s.DiskMisses = c.diskHits.Load(), c.diskMisses.Load()
		_, s.DiskBytes = c.disk.Stats()
	}
	return s
}
