package upload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// collect is a Sink that keeps a copy of every shard, by block index.
type collect struct {
	mu     sync.Mutex
	shards map[int][][]byte
}

func (c *collect) sink(_ context.Context, i int, _ *meta.Block, shards [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shards == nil {
		c.shards = map[int][][]byte{}
	}
	if c.shards[i] != nil {
		return errors.New("block stored twice")
	}
	for _, s := range shards {
		c.shards[i] = append(c.shards[i], bytes.Clone(s))
	}
	return nil
}

// TestFileUploadVector reproduces the file_upload vector: every block, every
// shard, the metadata blob, its sealing and the reference. The one
// difference is on purpose: we clamp the last block's end_offset.
func TestFileUploadVector(t *testing.T) {
	v := vectors.LoadMCDN(t)
	if len(v.FileUpload) == 0 {
		t.Fatal("no file_upload vectors")
	}
	for _, tc := range v.FileUpload {
		t.Run(tc.Name, func(t *testing.T) {
			content, err := tc.Content.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if seal.Sum(content) != meta.Hash(tc.ContentHash) {
				t.Fatalf("content hash %v, want %x", seal.Sum(content), tc.ContentHash)
			}
			var locs []meta.ShardLocation
			for _, raw := range tc.Backends {
				var loc meta.ShardLocation
				if err := json.Unmarshal(raw, &loc); err != nil {
					t.Fatal(err)
				}
				if !tc.IncludePassword {
					loc.Auth = nil
				}
				locs = append(locs, loc)
			}
			var nonces []meta.Nonce
			for _, n := range tc.BlockNonces {
				nonces = append(nonces, meta.Nonce(n))
			}
			mime := tc.Mime
			var got collect
			file, err := upload.EncodeFile(context.Background(), bytes.NewReader(content), tc.FileName, &mime, upload.Layout{
				ChunkSize:   tc.ChunkSize,
				K:           tc.RequiredShards,
				Shards:      locs,
				Nonces:      block.FixedNonces(nonces...),
				Parallelism: 3,
			}, got.sink)
			if err != nil {
				t.Fatal(err)
			}

			for _, ch := range tc.Chunks {
				b := file.Blocks[ch.Index]
				if b.ContentHash != meta.Hash(ch.ChunkKey) || b.EncryptedHash != meta.Hash(ch.ShardStoreKey) {
					t.Fatalf("block %d: keys %v %v, want %x %x", ch.Index, b.ContentHash, b.EncryptedHash, ch.ChunkKey, ch.ShardStoreKey)
				}
				shards := got.shards[ch.Index]
				if len(shards) != len(ch.Shards) {
					t.Fatalf("block %d: %d shards, want %d", ch.Index, len(shards), len(ch.Shards))
				}
				for i, want := range ch.Shards {
					if len(shards[i]) != want.Len || len(shards[i]) != ch.ShardSize || seal.Sum(shards[i]) != meta.Hash(want.Hash) {
						t.Fatalf("block %d shard %d differs from the vector", ch.Index, i)
					}
				}
			}
			if len(file.Blocks) != len(tc.Chunks) || len(got.shards) != len(tc.Chunks) {
				t.Fatalf("%d blocks, %d stored; want %d", len(file.Blocks), len(got.shards), len(tc.Chunks))
			}

			// Our only difference: the last end_offset is clamped to the file.
			last := &file.Blocks[len(file.Blocks)-1]
			if last.EndOffset != uint64(len(content))-1 {
				t.Fatalf("last end_offset %d, want the clamped %d", last.EndOffset, len(content)-1)
			}
			wantMeta, err := meta.ParseJSON(tc.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			wantLast := wantMeta.(*meta.File).Blocks[len(file.Blocks)-1].EndOffset
			if wantLast != uint64(len(tc.Chunks)*tc.ChunkSize)-1 {
				t.Fatalf("vector's last end_offset %d is not the unclamped one", wantLast)
			}
			last.EndOffset = wantLast
			if !reflect.DeepEqual(file, wantMeta) {
				t.Fatalf("metadata:\n got %+v\nwant %+v", file, wantMeta)
			}
			blob, err := meta.Marshal(file)
			if err != nil || !bytes.Equal(blob, tc.MetadataBlob) {
				t.Fatalf("metadata blob:\n got %x\nwant %x", blob, tc.MetadataBlob)
			}
			sealed, lookup, key := seal.SealMetadata(blob, meta.Nonce(tc.MetadataNonce))
			if !bytes.Equal(sealed, tc.Encrypted) || lookup != meta.Hash(tc.EncryptedHash) || key != meta.Hash(tc.PlaintextHash) {
				t.Fatalf("sealed metadata differs from the vector")
			}
			r := ref.Ref{Lookup: lookup, Key: key, Prefix: "mycelium-cdn/meta/"}
			if r.String() != tc.Ref {
				t.Fatalf("ref %s, want %s", r, tc.Ref)
			}
		})
	}
}

func locations(n int) []meta.ShardLocation {
	locs := make([]meta.ShardLocation, n)
	for i := range locs {
		locs[i] = meta.ShardLocation{Host: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(7000+i))}
	}
	return locs
}

// TestEncodeFileSizes encodes files of sizes around the chunk size and
// rebuilds each from the stored shards, checking offsets and content.
func TestEncodeFileSizes(t *testing.T) {
	const chunk = upload.MinChunkSize
	content := vectors.XOF("encode-file-sizes", 3*chunk+1)
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 1} {
		var got collect
		l := upload.Layout{ChunkSize: chunk, K: 3, Shards: locations(5), Parallelism: 2}
		file, err := upload.EncodeFile(context.Background(), bytes.NewReader(content[:size]), "f", nil, l, got.sink)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if file.ContentHash != seal.Sum(content[:size]) || len(file.Blocks) != (size+chunk-1)/chunk {
			t.Fatalf("size %d: content hash or %d blocks wrong", size, len(file.Blocks))
		}
		var rebuilt []byte
		var dec block.Decoder
		for i, b := range file.Blocks {
			end := min(uint64((i+1)*chunk), uint64(size)) - 1
			if b.StartOffset != uint64(i*chunk) || b.EndOffset != end {
				t.Fatalf("size %d block %d: offsets %d-%d", size, i, b.StartOffset, b.EndOffset)
			}
			shards := got.shards[i]
			shards[1], shards[3] = nil, nil
			if rebuilt, err = dec.Open(rebuilt, &b, shards); err != nil {
				t.Fatalf("size %d block %d: %v", size, i, err)
			}
		}
		if !bytes.Equal(rebuilt, content[:size]) {
			t.Fatalf("size %d: rebuilt content differs", size)
		}
	}
}

func TestEncodeFileErrors(t *testing.T) {
	ok := upload.Layout{ChunkSize: upload.MinChunkSize, K: 2, Shards: locations(3)}
	discard := func(context.Context, int, *meta.Block, [][]byte) error { return nil }
	for name, l := range map[string]upload.Layout{
		"small chunk": {ChunkSize: upload.MinChunkSize - 1, K: 2, Shards: locations(3)},
		"big chunk":   {ChunkSize: upload.MaxChunkSize + 1, K: 2, Shards: locations(3)},
		"k == n":      {K: 3, Shards: locations(3)},
		"k == 0":      {K: 0, Shards: locations(3)},
	} {
		if _, err := upload.EncodeFile(context.Background(), bytes.NewReader([]byte("x")), "f", nil, l, discard); err == nil {
			t.Errorf("%s: EncodeFile accepted the layout", name)
		}
	}
	readErr := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(make([]byte, 3*upload.MinChunkSize)), iotest.ErrReader(readErr))
	if _, err := upload.EncodeFile(context.Background(), r, "f", nil, ok, discard); !errors.Is(err, readErr) {
		t.Errorf("read error: %v", err)
	}
	sinkErr := errors.New("backend down")
	fail := func(_ context.Context, i int, _ *meta.Block, _ [][]byte) error {
		if i == 2 {
			return sinkErr
		}
		return nil
	}
	if f, err := upload.EncodeFile(context.Background(), bytes.NewReader(make([]byte, 5*upload.MinChunkSize)), "f", nil, ok, fail); !errors.Is(err, sinkErr) || f != nil {
		t.Errorf("sink error: %v, %v", f, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := upload.EncodeFile(ctx, bytes.NewReader(make([]byte, 5*upload.MinChunkSize)), "f", nil, ok, discard); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
