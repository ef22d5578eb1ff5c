// Package erasure splits a sealed chunk into k data shards and n-k parity
// shards, any k of which rebuild it, exactly as the reference system does.
//
// A chunk is first padded to a multiple of k: pad = k - len%k (k when
// aligned) bytes, each of value pad. The padded chunk is cut into k equal
// data shards, and parity comes from Reed-Solomon over GF(2^8) with the
// Vandermonde-derived matrix of klauspost/reedsolomon's default options, which
// equals the reference's reed_solomon_erasure galois_8. As in the reference,
// k == n and n > 256 are rejected, although the library would accept both
// (and switch codecs above 256 shards).
package erasure

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// MaxShards is the largest n.
const MaxShards = 256

// Errors of configuration, padding and rebuilding. The first four carry the
// reference system's names.
var (
	ErrInvalidConfig      = errors.New("invalid config: want 1 <= k <= n")
	ErrTooFewParityShards = errors.New("too few parity shards: want k < n")
	ErrTooManyShards      = errors.New("too many shards: want n <= 256")
	ErrPaddingTooLarge    = errors.New("padding larger than 255 bytes: k too large")
	ErrBadPadding         = errors.New("bad padding")
	ErrTooFewShards       = errors.New("too few shards to rebuild")
	ErrShardSize          = errors.New("shards of different sizes")
)

// Coder codes chunks for one (k, n). It is safe for concurrent use.
type Coder struct {
	k, n int
	rs   reedsolomon.Encoder
}

// coders caches Coders, which hold tables worth reusing, for the few (k, n)
// in use; beyond maxCached distinct pairs new Coders are not cached.
var coders struct {
	sync.Mutex
	m map[[2]int]*Coder
}

const maxCached = 64

// New returns the Coder for k data shards out of n. It fails with
// [ErrInvalidConfig] unless 1 <= k <= n, [ErrTooFewParityShards] when k == n
// and [ErrTooManyShards] when n > [MaxShards].
func New(k, n int) (*Coder, error) {
	if err := CheckConfig(k, n); err != nil {
		return nil, err
	}
	if k == n {
		return nil, fmt.Errorf("erasure: k=%d n=%d: %w", k, n, ErrTooFewParityShards)
	}
	if n > MaxShards {
		return nil, fmt.Errorf("erasure: n=%d: %w", n, ErrTooManyShards)
	}
	coders.Lock()
	defer coders.Unlock()
	if c := coders.m[[2]int{k, n}]; c != nil {
		return c, nil
	}
	rs, err := reedsolomon.New(k, n-k)
	if err != nil {
		return nil, fmt.Errorf("erasure: k=%d n=%d: %w", k, n, err)
	}
	c := &Coder{k: k, n: n, rs: rs}
	if coders.m == nil {
		coders.m = make(map[[2]int]*Coder)
	}
	if len(coders.m) < maxCached {
		coders.m[[2]int{k, n}] = c
	}
	return c, nil
}

// CheckConfig fails with [ErrInvalidConfig] unless 1 <= k <= n: the first
// check of the reference system, before a chunk is sealed. [New] checks the
// rest.
func CheckConfig(k, n int) error {
	if k < 1 || k > n {
		return fmt.Errorf("erasure: k=%d n=%d: %w", k, n, ErrInvalidConfig)
	}
	return nil
}

// K returns the number of data shards.
func (c *Coder) K() int { return c.k }

// N returns the number of shards.
func (c *Coder) N() int { return c.n }

// PadLen returns the padding of a sealed chunk of size bytes for k data
// shards: k - size%k, or k when size is a multiple of k. It fails with
// [ErrPaddingTooLarge] above 255, which only k > 255 allows.
func PadLen(size, k int) (int, error) {
	pad := k - size%k
	if pad > 255 {
		return 0, fmt.Errorf("erasure: pad %d for k=%d: %w", pad, k, ErrPaddingTooLarge)
	}
	return pad, nil
}

// ShardSize returns the size of each shard of a sealed chunk of size bytes.
func (c *Coder) ShardSize(size int) int {
	return size/c.k + 1 // pad brings size up to the next multiple of k
}

// BufferSize returns the capacity a buffer needs for [Coder.Encode] to code
// a sealed chunk of up to size bytes in place.
func (c *Coder) BufferSize(size int) int { return c.n * c.ShardSize(size) }

// Encode pads the sealed chunk buf, cuts it into k data shards and computes
// n-k parity shards. It appends the n shards to shards[:0] and returns them.
// The shards live in buf's array when cap(buf) >= [Coder.BufferSize], else in
// a new one; either way the caller must not use buf's bytes until it is done
// with the shards.
func (c *Coder) Encode(shards [][]byte, buf []byte) ([][]byte, error) {
	pad, err := PadLen(len(buf), c.k)
	if err != nil {
		return shards, err
	}
	sealed := len(buf)
	size := (sealed + pad) / c.k
	total := c.n * size
	if cap(buf) < total {
		grown := make([]byte, sealed, total)
		copy(grown, buf)
		buf = grown
	}
	buf = buf[:total]
	for i := sealed; i < sealed+pad; i++ {
		buf[i] = byte(pad)
	}
	shards = shards[:0]
	for i := range c.n {
		shards = append(shards, buf[i*size:(i+1)*size:(i+1)*size])
	}
	if err := c.rs.Encode(shards); err != nil {
		return shards, fmt.Errorf("erasure: encode: %w", err)
	}
	return shards, nil
}

// Join rebuilds a sealed chunk from its shards and appends it to dst.
// shards has n entries, nil or empty where a shard is missing, and needs any
// k. When all data shards are present they are joined without decoding;
// otherwise the missing data shards are rebuilt into shards, reusing the
// capacity of empty entries. Join checks the padding but cannot tell a
// corrupt shard: the caller checks the chunk's hash.
func (c *Coder) Join(dst []byte, shards [][]byte) ([]byte, error) {
	if len(shards) != c.n {
		return dst, fmt.Errorf("erasure: join: %d shards, want %d", len(shards), c.n)
	}
	size, have := 0, 0
	for i, s := range shards {
		if len(s) == 0 {
			continue
		}
		if size != 0 && len(s) != size {
			return dst, fmt.Errorf("erasure: join: shard %d has %d bytes, others %d: %w", i, len(s), size, ErrShardSize)
		}
		size = len(s)
		have++
	}
	if have < c.k {
		return dst, fmt.Errorf("erasure: join: %d of %d shards, need %d: %w", have, c.n, c.k, ErrTooFewShards)
	}
	for _, s := range shards[:c.k] {
		if len(s) == 0 {
			if err := c.rs.ReconstructData(shards); err != nil {
				return dst, fmt.Errorf("erasure: rebuild: %w", err)
			}
			break
		}
	}
	start := len(dst)
	for _, s := range shards[:c.k] {
		dst = append(dst, s...)
	}
	body, err := Unpad(dst[start:], c.k)
	if err != nil {
		return dst[:start], err
	}
	return dst[:start+len(body)], nil
}

// Unpad removes the padding of a joined chunk for k data shards. It fails
// with [ErrBadPadding] when the last byte is 0, above k, or longer than the
// data, or when the padding bytes differ.
func Unpad(data []byte, k int) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("erasure: unpad empty data: %w", ErrBadPadding)
	}
	pad := int(data[len(data)-1])
	if pad == 0 || pad > k || pad > len(data) {
		return nil, fmt.Errorf("erasure: unpad: pad byte %d for k=%d and %d bytes: %w", pad, k, len(data), ErrBadPadding)
	}
	for _, b := range data[len(data)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("erasure: unpad: padding bytes differ: %w", ErrBadPadding)
		}
	}
	return data[:len(data)-pad], nil
}
