package vectors_test

import (
	"encoding/hex"
	"os"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/vectors"
)

// TestFilesUnchanged pins the BLAKE3 hash of every vector file, as copied
// from the independent generator's output: a changed byte fails here even
// where no other test would notice it.
func TestFilesUnchanged(t *testing.T) {
	pinned := map[string]string{
		"mcdn-v1.json": "265113c5e145374ac71cb8ff796d86dc1a2608cd7f231675726b668e1b481f8b",
		"xeddsa.json":  "c1dc05163a640c277556c4b54ca7abcd8569fa76642b92eedad95bb10b0aa882",
		"README.md":    "c0c859713e1da0035de646e997a755d4c5dd3c640a6422d4b7fc4e8cb85af150",
	}
	for name, want := range pinned {
		b, err := os.ReadFile(vectors.Path(name))
		if err != nil {
			t.Fatalf("%v (copy ../shared/vectors/%s into testdata/ unchanged)", err, name)
		}
		if got := blake3.Sum256(b); hex.EncodeToString(got[:]) != want {
			t.Errorf("testdata/%s has changed: BLAKE3 %x, want %s", name, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	v := vectors.LoadMCDN(t)
	counts := map[string]int{
		"metadata_encoding":        len(v.MetadataEncoding),
		"metadata_decode_negative": len(v.DecodeNegative),
		"chunk_pipeline":           len(v.ChunkPipeline),
		"metadata_encryption":      len(v.MetadataEncrypted),
		"reference_parsing":        len(v.ReferenceParsing),
		"file_upload":              len(v.FileUpload),
	}
	want := map[string]int{
		"metadata_encoding": 10, "metadata_decode_negative": 18, "chunk_pipeline": 23,
		"metadata_encryption": 4, "reference_parsing": 16, "file_upload": 1,
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d cases loaded, want %d", k, counts[k], n)
		}
	}
	for _, tc := range v.ChunkPipeline {
		if _, err := tc.Plaintext.Bytes(); err != nil {
			t.Errorf("%s: %v", tc.Name, err)
		}
	}
	if x := vectors.LoadXEdDSA(t); len(x.Cases) != 3 {
		t.Errorf("xeddsa: %d cases", len(x.Cases))
	}
}
