package meta_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

// FuzzUnmarshal checks that decoding never panics, fails only with a
// *DecodeError, and that what decodes encodes back to the bytes it used, in
// binary and through the JSON form.
func FuzzUnmarshal(f *testing.F) {
	v := vectors.LoadMCDN(f)
	for _, tc := range v.MetadataEncoding {
		f.Add([]byte(tc.Blob))
	}
	for _, tc := range v.DecodeNegative {
		f.Add([]byte(tc.Blob))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, used, err := meta.Unmarshal(b)
		if err != nil {
			var de *meta.DecodeError
			if !errors.As(err, &de) || m != nil || used != 0 {
				t.Fatalf("Unmarshal error %v (%T) with value %v, used %d", err, err, m, used)
			}
			return
		}
		if used < 5 || used > len(b) {
			t.Fatalf("used %d of %d bytes", used, len(b))
		}
		again, err := meta.Marshal(m)
		if err != nil || !bytes.Equal(again, b[:used]) {
			t.Fatalf("Marshal(Unmarshal(b)) = %x, %v; want %x", again, err, b[:used])
		}
		js, err := meta.JSON(m)
		if err != nil {
			t.Fatalf("JSON: %v", err)
		}
		back, err := meta.ParseJSON(js)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", js, err)
		}
		if viaJSON, err := meta.Marshal(back); err != nil || !bytes.Equal(viaJSON, b[:used]) {
			t.Fatalf("JSON round trip changed the blob: %v", err)
		}
	})
}
