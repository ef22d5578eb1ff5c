package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

func TestMetadataVectors(t *testing.T) {
	v := vectors.LoadMCDN(t)
	blobs := map[string][]byte{}
	for _, tc := range v.MetadataEncoding {
		blobs[tc.Name] = tc.Blob
	}
	if len(v.MetadataEncrypted) == 0 {
		t.Fatal("no metadata_encryption vectors")
	}
	for _, tc := range v.MetadataEncrypted {
		t.Run(tc.Name, func(t *testing.T) {
			if !bytes.Equal(blobs[tc.MetadataCase], tc.Plaintext) {
				t.Fatalf("plaintext is not the blob of %q", tc.MetadataCase)
			}
			sealed, lookup, key := seal.SealMetadata(tc.Plaintext, meta.Nonce(tc.Nonce))
			if !bytes.Equal(sealed, tc.Encrypted) || len(sealed) != tc.EncryptedLen {
				t.Fatalf("sealed:\n got %x\nwant %x", sealed, tc.Encrypted)
			}
			if !bytes.Equal(lookup[:], tc.EncryptedHash) || !bytes.Equal(key[:], tc.PlaintextHash) {
				t.Fatalf("lookup %v key %v, want %x %x", lookup, key, tc.EncryptedHash, tc.PlaintextHash)
			}
			blob, err := seal.OpenMetadata(tc.Encrypted, lookup, key)
			if err != nil || !bytes.Equal(blob, tc.Plaintext) {
				t.Fatalf("OpenMetadata = %x, %v", blob, err)
			}
		})
	}
}

func TestOpenMetadataSaysWhichCheckFailed(t *testing.T) {
	blob := []byte("MCDN\x01 some metadata")
	sealed, lookup, key := seal.SealMetadata(blob, seal.MetadataNonce(blob))

	flipped := bytes.Clone(sealed)
	flipped[3] ^= 1
	if _, err := seal.OpenMetadata(flipped, lookup, key); !errors.Is(err, seal.ErrLookupMismatch) {
		t.Errorf("corrupt sealed blob: %v, want ErrLookupMismatch", err)
	}
	// A blob that hashes to its lookup but does not open with the key: the
	// registry is honest, the reference's key is wrong.
	wrongKey := key
	wrongKey[0] ^= 1
	if _, err := seal.OpenMetadata(sealed, lookup, wrongKey); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("wrong key: %v, want ErrAuth", err)
	}
	// A blob sealed under a key that is not its hash opens, but fails the
	// key check.
	other := []byte("MCDN\x01 other metadata")
	forged, forgedLookup, _ := sealUnder(key, other)
	if _, err := seal.OpenMetadata(forged, forgedLookup, key); !errors.Is(err, seal.ErrKeyMismatch) {
		t.Errorf("forged blob: %v, want ErrKeyMismatch", err)
	}
	short := []byte("short")
	if _, err := seal.OpenMetadata(short, seal.Sum(short), key); !errors.Is(err, seal.ErrTooShort) {
		t.Errorf("short blob: %v, want ErrTooShort", err)
	}
}

// sealUnder seals blob under an arbitrary key, as a forger would.
func sealUnder(key meta.Hash, blob []byte) ([]byte, meta.Hash, meta.Hash) {
	nonce := seal.MetadataNonce(blob)
	sealed := append(seal.SealChunk(nil, blob, key, nonce), nonce[:]...)
	return sealed, seal.Sum(sealed), key
}

func TestDerivedMetadataNonce(t *testing.T) {
	a, b := []byte("MCDN\x01a"), []byte("MCDN\x01b")
	if seal.MetadataNonce(a) != seal.MetadataNonce(bytes.Clone(a)) {
		t.Error("derived nonce differs for the same blob")
	}
	if seal.MetadataNonce(a) == seal.MetadataNonce(b) {
		t.Error("derived nonce equal for different blobs")
	}
	if n1, n2 := seal.RandomNonce(), seal.RandomNonce(); n1 == n2 {
		t.Error("two random nonces are equal")
	}
}

func TestSumAndHasher(t *testing.T) {
	// blake3_16("") from the BLAKE3 test vectors.
	if got := seal.Sum(nil).String(); got != "af1349b9f5f9a1a6a0404dea36dcc949" {
		t.Errorf("Sum(nil) = %s", got)
	}
	data := bytes.Repeat([]byte("0123456789"), 100000)
	h := seal.NewHasher()
	for p := data; len(p) > 0; p = p[min(len(p), 7777):] {
		h.Write(p[:min(len(p), 7777)])
	}
	if h.Sum() != seal.Sum(data) {
		t.Error("Hasher and Sum disagree")
	}
	h.Reset()
	if h.Sum() != seal.Sum(nil) {
		t.Error("Reset does not empty the Hasher")
	}
}

func TestOpenChunk(t *testing.T) {
	plain := []byte("chunk")
	key, _ := seal.ChunkKey(plain)
	nonce := seal.RandomNonce()
	sealed := seal.SealChunk(nil, plain, key, nonce)
	if got, err := seal.OpenChunk(nil, sealed, key, nonce); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenChunk = %q, %v", got, err)
	}
	sealed[0] ^= 1
	if _, err := seal.OpenChunk(nil, sealed, key, nonce); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("tampered chunk: %v, want ErrAuth", err)
	}
	if _, err := seal.OpenChunk(nil, sealed[:15], key, nonce); !errors.Is(err, seal.ErrTooShort) {
		t.Errorf("short chunk: %v, want ErrTooShort", err)
	}
}

func FuzzOpenMetadata(f *testing.F) {
	v := vectors.LoadMCDN(f)
	for _, tc := range v.MetadataEncrypted {
		f.Add([]byte(tc.Encrypted), []byte(tc.PlaintextHash))
	}
	f.Add([]byte{}, make([]byte, 16))
	f.Fuzz(func(t *testing.T, sealed, key []byte) {
		if len(key) != 16 {
			return
		}
		k := meta.Hash(key)
		blob, err := seal.OpenMetadata(sealed, seal.Sum(sealed), k)
		if err != nil {
			if blob != nil {
				t.Fatal("blob returned with an error")
			}
			return
		}
		if seal.Sum(blob) != k {
			t.Fatal("opened blob does not hash to its key")
		}
		// What opens is reproduced by sealing it again with its nonce.
		again, _, _ := seal.SealMetadata(blob, meta.Nonce(sealed[len(sealed)-12:]))
		if !bytes.Equal(again, sealed) {
			t.Fatal("sealing the opened blob does not give the sealed bytes")
		}
	})
}
