// Package fetch reads content by reference: sealed metadata from the
// registry, checked and opened, then each block rebuilt from any k of its n
// shards and verified before a byte of it is returned.
//
// For each block the fetcher asks the k shard stores that have answered
// fastest so far, and asks one more whenever an answer is late (a hedge,
// after a delay derived from the latencies it has seen) or fails. Up to n-k
// missing or corrupt shards per block are survived: a corrupt shard shows as
// a rebuilt block that fails its hash check, and then other subsets of the
// shards are tried and the bad shard is reported.
package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/erasure"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// ShardReader reads shards from one shard store database.
// *shardclient.Client implements it.
type ShardReader interface {
	// Get appends the value stored under key to dst.
	Get(ctx context.Context, key, dst []byte) ([]byte, error)
}

// MetadataReader reads sealed metadata by lookup hash.
// *registryclient.Client implements it.
type MetadataReader interface {
	Get(ctx context.Context, lookup meta.Hash) ([]byte, error)
}

// Errors of fetching.
var (
	// ErrUnavailable means too few shards of a block could be read.
	ErrUnavailable = errors.New("too few shards available")
	// ErrBadMetadata means metadata did not decode or describes no valid
	// layout.
	ErrBadMetadata = errors.New("bad metadata")
)

// Options configure a [Fetcher].
type Options struct {
	// Registry reads sealed metadata.
	Registry MetadataReader
	// Dial returns the reader of a shard location. The Fetcher calls it
	// once per distinct location (host, db and credentials) and keeps the
	// result, so it should return pooled, reusable clients.
	Dial func(meta.ShardLocation) (ShardReader, error)
	// Prefetch is the number of blocks a reader fetches ahead; zero means 4.
	// Memory stays within about Prefetch x chunk size x (1 + 1/k) per reader.
	Prefetch int
	// HedgeMin and HedgeMax bound the delay before asking one more store for
	// a shard of a block; zero means 20 ms and 2 s.
	HedgeMin, HedgeMax time.Duration
	// ShardTimeout bounds each shard read; zero means 30 s.
	ShardTimeout time.Duration
	// VerifyContent re-hashes every plaintext block against its content
	// hash, on top of the encrypted-hash and GCM checks.
	VerifyContent bool
	// Cache, when set, keeps verified blocks.
	Cache BlockCache
	// MetadataCache, when set, keeps opened metadata.
	MetadataCache MetadataCache
	// Observe, when set, is called after every shard read with the store,
	// how long the read took and its error, for metrics.
	Observe func(loc meta.ShardLocation, took time.Duration, err error)
	// Log receives a warning for each corrupt shard found, naming its store.
	Log *slog.Logger
}

// MetadataCache keeps opened, verified metadata. It is keyed by the lookup
// hash and the key that opened it (nil for unsealed metadata), so that only
// a reader who holds the key can hit it.
type MetadataCache interface {
	GetMetadata(lookup meta.Hash, key *meta.Hash) (meta.Metadata, bool)
	// AddMetadata keeps m, whose encoding took size bytes.
	AddMetadata(lookup meta.Hash, key *meta.Hash, m meta.Metadata, size int)
}

// BlockCache keeps verified plaintext blocks. Implementations must key
// blocks by their content hash (their secret key) as well as their encrypted
// hash, so that only a reader who opened the metadata can hit the cache.
type BlockCache interface {
	// GetBlock appends the plaintext of b to dst, if the cache holds it.
	GetBlock(b *meta.Block, dst []byte) ([]byte, bool)
	// AddBlock keeps the verified plaintext of b; it must copy plain.
	AddBlock(b *meta.Block, plain []byte)
}

// Fetcher reads content. It is safe for concurrent use.
type Fetcher struct {
	opts     Options
	log      *slog.Logger
	mu       sync.Mutex
	backends map[string]*backend
	buffers  sync.Pool // shard buffers
	plains   sync.Pool // plaintext block buffers
	decoders sync.Pool // *block.Decoder, each with a chunk-sized buffer
	corrupt  atomic.Int64
}

// New returns a Fetcher.
func New(opts Options) *Fetcher {
	if opts.Prefetch <= 0 {
		opts.Prefetch = 4
	}
	if opts.HedgeMin <= 0 {
		opts.HedgeMin = 20 * time.Millisecond
	}
	if opts.HedgeMax <= 0 {
		opts.HedgeMax = 2 * time.Second
	}
	if opts.ShardTimeout <= 0 {
		opts.ShardTimeout = 30 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fetcher{opts: opts, log: log, backends: map[string]*backend{}}
}

// CorruptShards returns how many corrupt shards the Fetcher has found.
func (f *Fetcher) CorruptShards() int64 { return f.corrupt.Load() }

// backend is one shard store database, with what the Fetcher has learnt of
// its speed.
type backend struct {
	loc    meta.ShardLocation
	reader ShardReader
	dial   error
	ewma   atomic.Int64 // latency of successful reads, ns; 0 until one
	fails  atomic.Int64 // failures since the last success
}

// unknownLatency is assumed for a store not yet heard from.
const unknownLatency = 50 * time.Millisecond

// expected returns the latency to plan with: the average of recent reads,
// plus a penalty per recent failure so that failing stores are asked last.
func (b *backend) expected() time.Duration {
	if b.dial != nil {
		return time.Hour
	}
	lat := time.Duration(b.ewma.Load())
	if lat == 0 {
		lat = unknownLatency
	}
	return lat + time.Duration(min(b.fails.Load(), 10))*time.Second
}

func (b *backend) observe(d time.Duration) {
	b.fails.Store(0)
	for {
		old := b.ewma.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/4
		}
		if b.ewma.CompareAndSwap(old, next) {
			return
		}
	}
}

func (f *Fetcher) backend(loc meta.ShardLocation) *backend {
	id := fmt.Sprintf("%v/%d", loc.Host, loc.DB)
	if loc.Auth != nil {
		id += "/" + loc.Auth.Token
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.backends[id]
	if b == nil {
		b = &backend{loc: loc}
		b.reader, b.dial = f.opts.Dial(loc)
		f.backends[id] = b
	}
	return b
}

func (f *Fetcher) buffer() []byte {
	if p, ok := f.buffers.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return nil
}

func (f *Fetcher) release(b []byte) {
	if cap(b) > 0 {
		f.buffers.Put(&b)
	}
}

type shardResult struct {
	index int
	data  []byte
	err   error
}

// Block fetches block b, rebuilds it from any k of its shards, verifies it
// and appends its plaintext to dst. It fails with [ErrUnavailable] when fewer
// than k good shards can be read.
func (f *Fetcher) Block(ctx context.Context, dst []byte, b *meta.Block) ([]byte, error) {
	if f.opts.Cache != nil {
		if out, ok := f.opts.Cache.GetBlock(b, dst); ok {
			return out, nil
		}
	}
	out, err := f.block(ctx, dst, b)
	if err == nil && f.opts.Cache != nil {
		f.opts.Cache.AddBlock(b, out[len(dst):])
	}
	return out, err
}

func (f *Fetcher) block(ctx context.Context, dst []byte, b *meta.Block) ([]byte, error) {
	n, k := len(b.Shards), int(b.RequiredShards)
	if _, err := erasure.New(k, n); err != nil {
		return dst, fmt.Errorf("%w: block %v: %w", ErrBadMetadata, b.EncryptedHash, err)
	}
	backends := make([]*backend, n)
	order := make([]int, n)
	for i := range n {
		backends[i], order[i] = f.backend(b.Shards[i]), i
	}
	// Fastest first; ties go to data shards, which need no decoding.
	slices.SortStableFunc(order, func(x, y int) int {
		return cmp.Compare(backends[x].expected(), backends[y].expected())
	})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan shardResult, n) // never blocks a late reader
	shards := make([][]byte, n)
	defer func() {
		for _, s := range shards {
			f.release(s)
		}
	}()
	var (
		launched, pending, have int
		failures                []error
		corruptSeen             bool
	)
	launch := func() bool {
		if launched == n {
			return false
		}
		i := order[launched]
		launched++
		pending++
		go f.readShard(ctx, backends[i], i, b.EncryptedHash[:], results)
		return true
	}
	for range k {
		launch()
	}
	hedge := time.NewTimer(f.hedgeDelay(backends, order[:launched]))
	defer hedge.Stop()

	dec, _ := f.decoders.Get().(*block.Decoder)
	if dec == nil {
		dec = &block.Decoder{VerifyContent: f.opts.VerifyContent}
	}
	defer f.decoders.Put(dec)
	for {
		select {
		case <-ctx.Done():
			return dst, ctx.Err()
		case <-hedge.C:
			if launch() {
				hedge.Reset(f.hedgeDelay(backends, order[:launched]))
			}
			continue
		case r := <-results:
			pending--
			if r.err == nil && len(r.data) == 0 {
				r.err = errors.New("empty shard")
			}
			switch {
			case r.err != nil: // ask the next store instead
				loc := b.Shards[r.index]
				failures = append(failures, fmt.Errorf("shard %d at %v db %d: %w", r.index, loc.Host, loc.DB, r.err))
				f.release(r.data)
				launch()
			case have+1 < k:
				shards[r.index] = r.data
				have++
			default:
				shards[r.index] = r.data
				have++
				out, err := f.open(dec, dst, b, shards, r.index, have == k)
				if err == nil {
					if corruptSeen {
						f.reportCorrupt(b, shards, out[len(dst):])
					}
					return out, nil
				}
				if !errors.Is(err, block.ErrCorrupt) && !errors.Is(err, erasure.ErrShardSize) {
					return dst, err
				}
				corruptSeen = true
				failures = append(failures, err)
				launch() // a shard at hand is bad: one more is needed
			}
			if pending == 0 && launched == n {
				return dst, f.unavailable(b, have, failures)
			}
		}
	}
}

// maxSubsets bounds the subsets of shards tried after a new shard arrives,
// when some shard is corrupt.
const maxSubsets = 256

// open tries to open b from the shards at hand: all of them when first is
// set (exactly k are present), else the k-subsets that include the shard
// that just arrived, since the others were tried before.
func (f *Fetcher) open(dec *block.Decoder, dst []byte, b *meta.Block, shards [][]byte, arrived int, first bool) ([]byte, error) {
	if first {
		return f.openSubset(dec, dst, b, shards, func(i int) bool { return shards[i] != nil })
	}
	var others []int
	for i, s := range shards {
		if s != nil && i != arrived {
			others = append(others, i)
		}
	}
	chosen := make([]bool, len(shards))
	tries := 0
	err := fmt.Errorf("block %v: %w", b.EncryptedHash, block.ErrCorrupt)
	out := dst
	combinations(len(others), int(b.RequiredShards)-1, func(pick []int) bool {
		if tries++; tries > maxSubsets {
			return false
		}
		clear(chosen)
		chosen[arrived] = true
		for _, p := range pick {
			chosen[others[p]] = true
		}
		out, err = f.openSubset(dec, dst, b, shards, func(i int) bool { return chosen[i] })
		return err != nil
	})
	return out, err
}

// openSubset opens b from the shards that use picks. Missing data shards
// are rebuilt into pooled buffers, which go back to the pool after.
func (f *Fetcher) openSubset(dec *block.Decoder, dst []byte, b *meta.Block, shards [][]byte, use func(int) bool) ([]byte, error) {
	k := int(b.RequiredShards)
	view := make([][]byte, len(shards))
	for i, s := range shards {
		switch {
		case use(i):
			view[i] = s
		case i < k:
			view[i] = f.buffer()
		}
	}
	out, err := dec.Open(dst, b, view)
	for i, v := range view[:k] {
		if !use(i) {
			f.release(v) // rebuilt into, and grown if it had to be
		}
	}
	return out, err
}

// combinations calls f with each choice of r indexes out of n, in order,
// until f returns false.
func combinations(n, r int, f func([]int) bool) {
	pick := make([]int, r)
	var rec func(start, depth int) bool
	rec = func(start, depth int) bool {
		if depth == r {
			return f(pick)
		}
		for i := start; i <= n-(r-depth); i++ {
			pick[depth] = i
			if !rec(i+1, depth+1) {
				return false
			}
		}
		return true
	}
	rec(0, 0)
}

// reportCorrupt finds which of the shards at hand differ from what the
// verified plaintext encodes to, and logs each with its store.
func (f *Fetcher) reportCorrupt(b *meta.Block, shards [][]byte, plain []byte) {
	enc, err := block.NewEncoder(int(b.RequiredShards), b.Shards, block.FixedNonces(b.Nonce))
	if err != nil {
		return
	}
	_, want, err := enc.Encode(0, plain)
	if err != nil {
		return
	}
	for i, s := range shards {
		if s != nil && string(s) != string(want[i]) {
			f.corrupt.Add(1)
			loc := b.Shards[i]
			f.log.Warn("corrupt shard: repair or replace this store", "block", b.EncryptedHash.String(),
				"shard", i, "store", loc.Host.String(), "db", loc.DB)
		}
	}
}

func (f *Fetcher) unavailable(b *meta.Block, have int, failures []error) error {
	return fmt.Errorf("block %v: %w: %d of %d shards read, %d good ones needed: %w", b.EncryptedHash, ErrUnavailable,
		have, len(b.Shards), b.RequiredShards, errors.Join(failures...))
}

// hedgeDelay is how long to wait for the launched reads before asking one
// more store: twice the slowest expected latency among them, within bounds.
func (f *Fetcher) hedgeDelay(backends []*backend, launched []int) time.Duration {
	var slowest time.Duration
	for _, i := range launched {
		slowest = max(slowest, backends[i].expected())
	}
	return min(max(2*slowest, f.opts.HedgeMin), f.opts.HedgeMax)
}

func (f *Fetcher) readShard(ctx context.Context, b *backend, index int, key []byte, results chan<- shardResult) {
	if b.dial != nil {
		results <- shardResult{index: index, err: b.dial}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.ShardTimeout)
	defer cancel()
	start := time.Now()
	data, err := b.reader.Get(ctx, key, f.buffer())
	if f.opts.Observe != nil {
		f.opts.Observe(b.loc, time.Since(start), err)
	}
	switch {
	case err == nil:
		b.observe(time.Since(start))
	case ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded):
		b.fails.Add(1)
	}
	results <- shardResult{index: index, data: data, err: err}
}

// Metadata reads the metadata under lookup from the registry, checks it
// against lookup, opens it with key, checks it against key and decodes it.
func (f *Fetcher) Metadata(ctx context.Context, lookup, key meta.Hash) (meta.Metadata, error) {
	return f.Entry(ctx, meta.Entry{Lookup: lookup, Key: &key})
}

// Entry reads the metadata of a directory entry: sealed when it has a key,
// else plain (then checked against its lookup hash only).
func (f *Fetcher) Entry(ctx context.Context, e meta.Entry) (meta.Metadata, error) {
	if c := f.opts.MetadataCache; c != nil {
		if m, ok := c.GetMetadata(e.Lookup, e.Key); ok {
			return m, nil
		}
	}
	blob, err := f.opts.Registry.Get(ctx, e.Lookup)
	if err != nil {
		return nil, fmt.Errorf("metadata %v: %w", e.Lookup, err)
	}
	if e.Key != nil {
		blob, err = seal.OpenMetadata(blob, e.Lookup, *e.Key)
	} else if seal.Sum(blob) != e.Lookup {
		err = fmt.Errorf("metadata %v: %w", e.Lookup, seal.ErrLookupMismatch)
	}
	if err != nil {
		return nil, err
	}
	m, _, err := meta.Unmarshal(blob)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrBadMetadata, e.Lookup, err)
	}
	if c := f.opts.MetadataCache; c != nil {
		c.AddMetadata(e.Lookup, e.Key, m, len(blob))
	}
	return m, nil
}
