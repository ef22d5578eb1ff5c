package block_test

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"

	"github.com/klauspost/reedsolomon"
	zeebo "github.com/zeebo/blake3"
	luke "lukechampine.com/blake3"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/vectors"
)

const benchChunk = 5 << 20

var layouts = [][2]int{{3, 5}, {10, 14}}

// BenchmarkEncode seals and codes a 5 MiB chunk: BLAKE3 of the plaintext,
// AES-128-GCM, BLAKE3 of the ciphertext, padding and Reed-Solomon parity.
func BenchmarkEncode(b *testing.B) {
	plain := vectors.XOF("bench", benchChunk)
	for _, kn := range layouts {
		b.Run(fmt.Sprintf("k%d_n%d", kn[0], kn[1]), func(b *testing.B) {
			enc, err := block.NewEncoder(kn[0], locations(kn[1]), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchChunk)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := enc.Encode(0, plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen rebuilds a 5 MiB chunk and opens it: from the data shards
// alone (no decoding), and with n-k data shards lost (Reed-Solomon rebuild),
// then BLAKE3 of the ciphertext and AES-128-GCM.
func BenchmarkOpen(b *testing.B) {
	plain := vectors.XOF("bench", benchChunk)
	for _, kn := range layouts {
		k, n := kn[0], kn[1]
		enc, err := block.NewEncoder(k, locations(n), nil)
		if err != nil {
			b.Fatal(err)
		}
		blk, stored, err := enc.Encode(0, plain)
		if err != nil {
			b.Fatal(err)
		}
		for _, lost := range []int{0, n - k} {
			b.Run(fmt.Sprintf("k%d_n%d/lost%d", k, n, lost), func(b *testing.B) {
				var dec block.Decoder
				shards := make([][]byte, n)
				spare := make([][]byte, lost)
				for i := range spare {
					spare[i] = make([]byte, 0, len(stored[0]))
				}
				out := make([]byte, 0, benchChunk)
				b.SetBytes(benchChunk)
				b.ReportAllocs()
				for b.Loop() {
					copy(shards, stored)
					for i := range lost {
						shards[i] = spare[i][:0]
					}
					if out, err = dec.Open(out[:0], &blk, shards); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPrimitives measures the raw primitives the chunk path is made of,
// on a 5 MiB input, for comparison with Encode and Open.
func BenchmarkPrimitives(b *testing.B) {
	data := vectors.XOF("bench", benchChunk)
	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchChunk)
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
	block, _ := aes.NewCipher(make([]byte, 16))
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	sealed := gcm.Seal(nil, nonce, data, nil)
	buf := make([]byte, 0, len(sealed))
	run("AES128GCM_seal", func() { buf = gcm.Seal(buf[:0], nonce, data, nil) })
	run("AES128GCM_open", func() { buf, _ = gcm.Open(buf[:0], nonce, sealed, nil) })
	run("BLAKE3_zeebo", func() { zeebo.Sum256(data) })
	run("BLAKE3_lukechampine", func() { luke.Sum256(data) })
	for _, kn := range layouts {
		k, n := kn[0], kn[1]
		rs, _ := reedsolomon.New(k, n-k)
		shards, _ := rs.Split(append([]byte(nil), data...))
		run(fmt.Sprintf("RS_encode_k%d_n%d", k, n), func() { _ = rs.Encode(shards) })
		lost := make([][]byte, n-k)
		for i := range lost {
			lost[i] = make([]byte, 0, len(shards[0]))
		}
		work := make([][]byte, n)
		run(fmt.Sprintf("RS_rebuild_k%d_n%d_lost%d", k, n, n-k), func() {
			copy(work, shards)
			for i := range lost {
				work[i] = lost[i][:0]
			}
			_ = rs.ReconstructData(work)
		})
	}
}
