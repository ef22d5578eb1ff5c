package block_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/erasure"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

// locations returns n distinct shard locations.
func locations(n int) []meta.ShardLocation {
	locs := make([]meta.ShardLocation, n)
	for i := range locs {
		locs[i] = meta.ShardLocation{Host: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(6379+i)), DB: 1}
	}
	return locs
}

var vectorErrors = map[string]error{
	"InvalidConfig":      erasure.ErrInvalidConfig,
	"PaddingTooLarge":    erasure.ErrPaddingTooLarge,
	"TooFewParityShards": erasure.ErrTooFewParityShards,
	"TooManyShards":      erasure.ErrTooManyShards,
}

// TestChunkVectors runs every chunk_pipeline vector through the steps in the
// reference system's order (config check, seal, pad, Reed-Solomon), checking
// every field, the expected error at the step that raises it, and rebuilds
// from k-subsets of the shards.
func TestChunkVectors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	for _, tc := range v.ChunkPipeline {
		t.Run(tc.Name, func(t *testing.T) {
			plain, err := tc.Plaintext.Bytes()
			if err != nil || len(plain) != tc.PlaintextLen {
				t.Fatalf("plaintext: %d bytes, %v", len(plain), err)
			}
			var wantErr error
			if tc.ExpectError != nil {
				if wantErr = vectorErrors[*tc.ExpectError]; wantErr == nil {
					t.Fatalf("unknown expected error %q", *tc.ExpectError)
				}
			}
			step := func(err error) (stop bool) {
				t.Helper()
				switch {
				case wantErr == nil && err != nil:
					t.Fatalf("unexpected error: %v", err)
				case wantErr != nil && err != nil:
					if !errors.Is(err, wantErr) {
						t.Fatalf("error %v, want %v", err, wantErr)
					}
					// The Encoder refuses the layout outright.
					if _, err := block.NewEncoder(tc.K, locations(tc.N), nil); err == nil {
						t.Fatalf("NewEncoder(%d, %d) accepted a layout the vector rejects", tc.K, tc.N)
					}
					return true
				}
				return false
			}
			if step(erasure.CheckConfig(tc.K, tc.N)) {
				return
			}

			key, _ := seal.ChunkKey(plain)
			sealed := seal.SealChunk(nil, plain, key, meta.Nonce(tc.Nonce))
			if !bytes.Equal(key[:], tc.ChunkKey) {
				t.Fatalf("chunk key %x, want %x", key, tc.ChunkKey)
			}
			if len(sealed) != tc.CiphertextLen || (tc.Ciphertext != nil && !bytes.Equal(sealed, tc.Ciphertext)) {
				t.Fatalf("ciphertext %x, want %x", sealed, tc.Ciphertext)
			}
			encHash := seal.Sum(sealed)
			if !bytes.Equal(encHash[:], tc.CiphertextHash) || !bytes.Equal(encHash[:], tc.ShardStoreKey) {
				t.Fatalf("encrypted hash %x, want %x", encHash, tc.ShardStoreKey)
			}
			if pad := tc.K - len(sealed)%tc.K; pad != tc.PadLen {
				t.Fatalf("pad %d, want %d", pad, tc.PadLen)
			}
			if _, err := erasure.PadLen(len(sealed), tc.K); step(err) {
				return
			}
			if _, err := erasure.New(tc.K, tc.N); step(err) {
				return
			}
			if wantErr != nil {
				t.Fatalf("no error, want %v", wantErr)
			}

			enc, err := block.NewEncoder(tc.K, locations(tc.N), block.FixedNonces(meta.Nonce(tc.Nonce)))
			if err != nil {
				t.Fatal(err)
			}
			b, shards, err := enc.Encode(0, plain)
			if err != nil {
				t.Fatal(err)
			}
			if b.ContentHash != key || b.EncryptedHash != encHash || b.Nonce != meta.Nonce(tc.Nonce) ||
				int(b.RequiredShards) != tc.K || len(b.Shards) != tc.N {
				t.Fatalf("block %+v does not match the vector", b)
			}
			if len(shards) != tc.N || len(shards) != len(tc.Shards) || tc.K*tc.ShardSize != tc.PaddedLen {
				t.Fatalf("%d shards, vector has %d", len(shards), len(tc.Shards))
			}
			for i, want := range tc.Shards {
				got := shards[i]
				if want.Index != i || len(got) != want.Len || len(got) != tc.ShardSize {
					t.Fatalf("shard %d: %d bytes, want %d", i, len(got), want.Len)
				}
				if h := seal.Sum(got); !bytes.Equal(h[:], want.Hash) || (want.Hex != nil && !bytes.Equal(got, want.Hex)) {
					t.Fatalf("shard %d (%s) = %x, want hash %x", i, want.Kind, got, want.Hash)
				}
				if wantKind := map[bool]string{true: "data", false: "parity"}[i < tc.K]; want.Kind != wantKind {
					t.Fatalf("shard %d kind %q, want %q", i, want.Kind, wantKind)
				}
			}
			stored := make([][]byte, len(shards))
			for i := range shards {
				stored[i] = bytes.Clone(shards[i])
			}
			checkRebuilds(t, &b, stored, plain)
		})
	}
}

// checkRebuilds opens b from every k-subset of its shards (20 random ones
// when there are more than 1100 or k is large), from the data shards with
// the parity corrupted, and checks a corrupt shard is caught.
func checkRebuilds(t *testing.T, b *meta.Block, stored [][]byte, plain []byte) {
	t.Helper()
	n, k := len(stored), int(b.RequiredShards)
	var dec block.Decoder
	dec.VerifyContent = true
	open := func(keep []bool, what string) {
		shards := make([][]byte, n)
		for i := range shards {
			if keep[i] {
				shards[i] = bytes.Clone(stored[i])
			}
		}
		out, err := dec.Open(nil, b, shards)
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("Open from %s %v: %v", what, keep, err)
		}
	}
	if subsets := new(big.Int).Binomial(int64(n), int64(k)); subsets.IsInt64() && subsets.Int64() <= 1100 && k <= 20 {
		vectors.Subsets(n, k, func(keep []bool) { open(keep, "subset") })
	} else {
		rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
		for range 20 {
			keep := make([]bool, n)
			for _, i := range rng.Perm(n)[:k] {
				keep[i] = true
			}
			open(keep, "random subset")
		}
	}

	data := make([][]byte, n)
	copy(data, stored[:k])
	for i := k; i < n; i++ {
		data[i] = bytes.Repeat([]byte{0x5a}, len(stored[i]))
	}
	if out, err := dec.Open(nil, b, data); err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("Open from data shards with garbage parity: %v", err)
	}

	// A flipped bit in a shard that a rebuild uses is caught.
	corrupt := make([][]byte, n)
	for i := range k {
		corrupt[i] = bytes.Clone(stored[i])
	}
	corrupt[0][0] ^= 1
	if out, err := dec.Open(nil, b, corrupt); !errors.Is(err, block.ErrCorrupt) {
		t.Fatalf("Open with a corrupt shard = %d bytes, %v; want ErrCorrupt", len(out), err)
	}
}

func TestDecoderRejects(t *testing.T) {
	enc, err := block.NewEncoder(3, locations(5), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("some plaintext that is long enough to span shards")
	b, shards, err := enc.Encode(0, plain)
	if err != nil {
		t.Fatal(err)
	}
	var dec block.Decoder
	dec.VerifyContent = true
	wrongKey := b
	wrongKey.ContentHash[0] ^= 1
	if _, err := dec.Open(nil, &wrongKey, shards); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("Open with a wrong key = %v, want ErrAuth", err)
	}
	wrongNonce := b
	wrongNonce.Nonce[0] ^= 1
	if _, err := dec.Open(nil, &wrongNonce, shards); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("Open with a wrong nonce = %v, want ErrAuth", err)
	}
	wrongHash := b
	wrongHash.EncryptedHash[0] ^= 1
	if _, err := dec.Open(nil, &wrongHash, shards); !errors.Is(err, block.ErrCorrupt) {
		t.Errorf("Open with a wrong encrypted hash = %v, want ErrCorrupt", err)
	}
	badK := b
	badK.RequiredShards = 5
	if _, err := dec.Open(nil, &badK, shards); !errors.Is(err, erasure.ErrTooFewParityShards) {
		t.Errorf("Open with k == n = %v", err)
	}
	if _, err := dec.Open(nil, &b, shards[:4]); err == nil {
		t.Error("Open with 4 shard entries for 5 locations succeeded")
	}
}

func TestNonces(t *testing.T) {
	plain := bytes.Repeat([]byte("x"), 1000)
	encode := func(k int, locs []meta.ShardLocation, choose block.NonceFunc) meta.Block {
		t.Helper()
		enc, err := block.NewEncoder(k, locs, choose)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := enc.Encode(0, plain)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	locs := locations(5)
	base := encode(3, locs, nil)
	if again := encode(3, locations(5), nil); again.Nonce != base.Nonce || again.EncryptedHash != base.EncryptedHash {
		t.Error("derived nonce differs for the same content and layout")
	}
	withToken := locations(5)
	withToken[2].Auth = &meta.Auth{Token: "secret"}
	if b := encode(3, withToken, nil); b.Nonce != base.Nonce {
		t.Error("derived nonce depends on embedded credentials")
	}
	reordered := locations(5)
	reordered[0], reordered[1] = reordered[1], reordered[0]
	otherDB := locations(5)
	otherDB[4].DB = 2
	for name, b := range map[string]meta.Block{
		"k":      encode(2, locs, nil),
		"order":  encode(3, reordered, nil),
		"db":     encode(3, otherDB, nil),
		"n":      encode(3, locations(6), nil),
		"random": encode(3, locs, block.RandomNonces),
	} {
		if b.Nonce == base.Nonce || b.EncryptedHash == base.EncryptedHash {
			t.Errorf("changing the %s keeps the nonce and shard key", name)
		}
	}
	if _, err := block.FixedNonces(base.Nonce)(1, meta.Nonce{}); err == nil {
		t.Error("FixedNonces gave a nonce beyond its list")
	}
}

// TestEncodeReusesBuffers checks that encoding chunks in steady state
// allocates nothing chunk-sized.
func TestEncodeReusesBuffers(t *testing.T) {
	const size = 1 << 20
	enc, err := block.NewEncoder(3, locations(5), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, size)
	dec := block.Decoder{}
	var out []byte
	run := func() {
		b, shards, err := enc.Encode(0, plain)
		if err != nil {
			t.Fatal(err)
		}
		shards[0] = shards[0][:0] // lost: rebuilt
		if out, err = dec.Open(out[:0], &b, shards); err != nil || len(out) != size {
			t.Fatal(err)
		}
	}
	run()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const rounds = 10
	for range rounds {
		run()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per > size/16 {
		t.Fatalf("encoding and opening a %d-byte chunk allocates %d bytes per round", size, per)
	}
}

func ExampleEncoder() {
	locs := []meta.ShardLocation{
		{Host: netip.MustParseAddrPort("127.0.0.1:6379")},
		{Host: netip.MustParseAddrPort("127.0.0.1:6380")},
		{Host: netip.MustParseAddrPort("127.0.0.1:6381")},
	}
	enc, err := block.NewEncoder(2, locs, nil)
	if err != nil {
		panic(err)
	}
	b, shards, err := enc.Encode(0, []byte("hello"))
	if err != nil {
		panic(err)
	}
	shards[1] = nil // any 2 of 3 shards rebuild the chunk
	var dec block.Decoder
	plain, err := dec.Open(nil, &b, shards)
	fmt.Printf("%s %v\n", plain, err)
	// Output: hello <nil>
}
