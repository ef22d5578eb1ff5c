// Package vectors loads the golden vectors in the repository's testdata/
// directory for tests. The files there are copies, unchanged, of vectors made
// by an independent implementation; nothing in this repository writes them.
package vectors

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zeebo/blake3"
)

// MCDN holds testdata/mcdn-v1.json.
type MCDN struct {
	Format            string               `json:"format"`
	MetadataEncoding  []MetadataEncoding   `json:"metadata_encoding"`
	DecodeNegative    []DecodeNegative     `json:"metadata_decode_negative"`
	ChunkPipeline     []ChunkPipeline      `json:"chunk_pipeline"`
	MetadataEncrypted []MetadataEncryption `json:"metadata_encryption"`
	ReferenceParsing  []ReferenceParsing   `json:"reference_parsing"`
	FileUpload        []FileUpload         `json:"file_upload"`
}

// MetadataEncoding is a metadata value and its exact encoding.
type MetadataEncoding struct {
	Name           string          `json:"name"`
	Value          json.RawMessage `json:"value"`
	Payload        Hex             `json:"payload_hex"`
	Blob           Hex             `json:"blob_hex"`
	BlobLen        int             `json:"blob_len"`
	BlobHash       Hex             `json:"blob_blake3_16"`
	Lossy          bool            `json:"lossy"`
	RoundtripValue json.RawMessage `json:"roundtrip_value"`
}

// DecodeNegative is a blob and the error decoding it gives, if any.
type DecodeNegative struct {
	Name  string          `json:"name"`
	Blob  Hex             `json:"blob_hex"`
	Error *string         `json:"error"`
	Why   string          `json:"why"`
	Used  int             `json:"used"`
	Value json.RawMessage `json:"value"`
}

// ChunkPipeline is one chunk sealed, padded and erasure coded.
type ChunkPipeline struct {
	Name           string  `json:"name"`
	K              int     `json:"k"`
	N              int     `json:"n"`
	Plaintext      Data    `json:"plaintext"`
	PlaintextLen   int     `json:"plaintext_len"`
	Nonce          Hex     `json:"nonce"`
	ChunkKey       Hex     `json:"chunk_key"`
	CiphertextLen  int     `json:"ciphertext_len"`
	CiphertextHash Hex     `json:"ciphertext_blake3_16"`
	Ciphertext     Hex     `json:"ciphertext_hex"`
	ShardStoreKey  Hex     `json:"shard_store_key"`
	PadLen         int     `json:"pad_len"`
	PaddedLen      int     `json:"padded_len"`
	ShardSize      int     `json:"shard_size"`
	Shards         []Shard `json:"shards"`
	ExpectError    *string `json:"expect_error"`
}

// Shard is one shard of a chunk.
type Shard struct {
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Len   int    `json:"len"`
	Hash  Hex    `json:"blake3_16"`
	Hex   Hex    `json:"hex"`
}

// MetadataEncryption is a metadata blob sealed with a given nonce.
type MetadataEncryption struct {
	Name          string `json:"name"`
	MetadataCase  string `json:"metadata_case"`
	Plaintext     Hex    `json:"plaintext_blob_hex"`
	Nonce         Hex    `json:"nonce"`
	PlaintextHash Hex    `json:"plaintext_hash"`
	Encrypted     Hex    `json:"encrypted_blob_hex"`
	EncryptedLen  int    `json:"encrypted_blob_len"`
	EncryptedHash Hex    `json:"encrypted_hash"`
	Ref           string `json:"ref"`
	RefWithPrefix string `json:"ref_with_prefix"`
}

// ReferenceParsing is a reference and whether it is valid.
type ReferenceParsing struct {
	Ref           string  `json:"ref"`
	Valid         bool    `json:"valid"`
	EncryptedHash Hex     `json:"encrypted_hash"`
	PlaintextHash Hex     `json:"plaintext_hash"`
	Prefix        *string `json:"prefix"`
	Why           string  `json:"why"`
}

// FileUpload is a whole file uploaded.
type FileUpload struct {
	Name            string            `json:"name"`
	Content         Data              `json:"content"`
	ContentHash     Hex               `json:"content_blake3_16"`
	ChunkSize       int               `json:"chunk_size"`
	RequiredShards  int               `json:"required_shards"`
	Backends        []json.RawMessage `json:"backends"`
	IncludePassword bool              `json:"include_password"`
	FileName        string            `json:"file_name"`
	Mime            string            `json:"mime"`
	BlockNonces     []Hex             `json:"block_nonces"`
	MetadataNonce   Hex               `json:"metadata_nonce"`
	Chunks          []UploadChunk     `json:"chunks"`
	Metadata        json.RawMessage   `json:"metadata"`
	MetadataBlob    Hex               `json:"metadata_blob_hex"`
	PlaintextHash   Hex               `json:"plaintext_hash"`
	Encrypted       Hex               `json:"encrypted_blob_hex"`
	EncryptedHash   Hex               `json:"encrypted_hash"`
	Ref             string            `json:"ref"`
}

// UploadChunk is one chunk of a [FileUpload].
type UploadChunk struct {
	Index         int     `json:"index"`
	PlaintextLen  int     `json:"plaintext_len"`
	ChunkKey      Hex     `json:"chunk_key"`
	ShardStoreKey Hex     `json:"shard_store_key"`
	CiphertextLen int     `json:"ciphertext_len"`
	PadLen        int     `json:"pad_len"`
	ShardSize     int     `json:"shard_size"`
	Shards        []Shard `json:"shards"`
}

// XEdDSA holds testdata/xeddsa.json.
type XEdDSA struct {
	Format string `json:"format"`
	Cases  []struct {
		Name                 string `json:"name"`
		Priv                 Hex    `json:"priv"`
		Pub                  Hex    `json:"pub"`
		Msg                  Hex    `json:"msg"`
		Z                    Hex    `json:"Z"`
		Sig                  Hex    `json:"sig"`
		LegacySig            Hex    `json:"legacy_sig"`
		ExpectLegacyVerifies bool   `json:"expect_legacy_verifies"`
	} `json:"cases"`
}

// Hex is bytes written as hexadecimal in JSON.
type Hex []byte

// UnmarshalText decodes hexadecimal.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

// Data is bytes given as hex, as a BLAKE3 XOF recipe, or both.
type Data struct {
	Hex Hex `json:"hex"`
	XOF *struct {
		Input string `json:"input"`
		Len   int    `json:"len"`
	} `json:"xof"`
}

// Bytes returns the data, checking that hex and recipe agree when both are
// given.
func (d Data) Bytes() ([]byte, error) {
	if d.XOF == nil {
		return d.Hex, nil
	}
	out := XOF(d.XOF.Input, d.XOF.Len)
	if d.Hex != nil && !bytes.Equal(d.Hex, out) {
		return nil, fmt.Errorf("xof recipe %q and hex disagree", d.XOF.Input)
	}
	return out, nil
}

// XOF returns the first n bytes of the BLAKE3 XOF of input.
func XOF(input string, n int) []byte {
	h := blake3.New()
	h.WriteString(input)
	out := make([]byte, n)
	if _, err := h.Digest().Read(out); err != nil {
		panic(err) // reading a BLAKE3 XOF cannot fail
	}
	return out
}

// Subsets calls f with every choice of k of n items, as a mask: keep[i]
// is set for the chosen ones. f must not keep keep.
func Subsets(n, k int, f func(keep []bool)) {
	keep := make([]bool, n)
	var rec func(i, left int)
	rec = func(i, left int) {
		if left == 0 {
			f(keep)
			return
		}
		if n-i < left {
			return
		}
		keep[i] = true
		rec(i+1, left-1)
		keep[i] = false
		rec(i+1, left)
	}
	rec(0, k)
}

// Path returns the path of the named file in the repository's testdata/.
func Path(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
}

// LoadMCDN reads testdata/mcdn-v1.json, failing t if it cannot.
func LoadMCDN(t testing.TB) *MCDN {
	var v MCDN
	load(t, "mcdn-v1.json", &v)
	if v.Format != "mcdn-v1-golden-vectors" {
		t.Fatalf("mcdn-v1.json: unexpected format %q", v.Format)
	}
	return &v
}

// LoadXEdDSA reads testdata/xeddsa.json, failing t if it cannot.
func LoadXEdDSA(t testing.TB) *XEdDSA {
	var v XEdDSA
	load(t, "xeddsa.json", &v)
	if v.Format != "xeddsa-v1" || len(v.Cases) == 0 {
		t.Fatalf("xeddsa.json: unexpected format %q or no cases", v.Format)
	}
	return &v
}

func load(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(Path(name))
	if err != nil {
		t.Fatalf("golden vectors: %v (copy ../shared/vectors/%s into testdata/)", err, name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("golden vectors %s: %v", name, err)
	}
}
