package erasure_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/mycdn/mycdn/internal/erasure"
	"github.com/mycdn/mycdn/internal/vectors"
)

func TestNewRejects(t *testing.T) {
	cases := []struct {
		k, n int
		want error
	}{
		{0, 3, erasure.ErrInvalidConfig},
		{-1, 3, erasure.ErrInvalidConfig},
		{4, 3, erasure.ErrInvalidConfig},
		{1, 1, erasure.ErrTooFewParityShards},
		{255, 255, erasure.ErrTooFewParityShards},
		{200, 257, erasure.ErrTooManyShards},
		{256, 257, erasure.ErrTooManyShards},
	}
	for _, tc := range cases {
		if _, err := erasure.New(tc.k, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("New(%d, %d) = %v, want %v", tc.k, tc.n, err, tc.want)
		}
	}
	for _, kn := range [][2]int{{1, 2}, {3, 5}, {255, 256}} {
		c, err := erasure.New(kn[0], kn[1])
		if err != nil || c.K() != kn[0] || c.N() != kn[1] {
			t.Errorf("New(%d, %d) = %v, %v", kn[0], kn[1], c, err)
		}
	}
}

func TestPadLen(t *testing.T) {
	cases := []struct{ size, k, want int }{
		{0, 3, 3}, {1, 3, 2}, {2, 3, 1}, {3, 3, 3}, {17, 1, 1}, {0, 255, 255}, {1, 255, 254},
	}
	for _, tc := range cases {
		if got, err := erasure.PadLen(tc.size, tc.k); err != nil || got != tc.want {
			t.Errorf("PadLen(%d, %d) = %d, %v; want %d", tc.size, tc.k, got, err, tc.want)
		}
	}
	if _, err := erasure.PadLen(0, 256); !errors.Is(err, erasure.ErrPaddingTooLarge) {
		t.Errorf("PadLen(0, 256) = %v, want ErrPaddingTooLarge", err)
	}
	if got, err := erasure.PadLen(1, 256); err != nil || got != 255 {
		t.Errorf("PadLen(1, 256) = %d, %v; want 255", got, err)
	}
}

func TestUnpad(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		k    int
		want []byte // nil: an error
	}{
		{"one", []byte{9, 9, 1}, 3, []byte{9, 9}},
		{"three", []byte{9, 3, 3, 3}, 3, []byte{9}},
		{"all padding", []byte{3, 3, 3}, 3, []byte{}},
		{"zero", []byte{9, 9, 0}, 3, nil},
		{"above k", []byte{4, 4, 4, 4}, 3, nil},
		{"longer than data", []byte{3, 3}, 3, nil},
		{"bytes differ", []byte{9, 2, 3, 3}, 3, nil},
		{"empty", []byte{}, 3, nil},
	}
	for _, tc := range cases {
		got, err := erasure.Unpad(tc.data, tc.k)
		if tc.want == nil {
			if !errors.Is(err, erasure.ErrBadPadding) {
				t.Errorf("%s: Unpad = %v, %v; want ErrBadPadding", tc.name, got, err)
			}
		} else if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: Unpad = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestRoundTrip codes chunks of sizes around shard boundaries and rebuilds
// them from every k-subset of shards, and from the data shards alone with
// the parity destroyed.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kn := range [][2]int{{1, 2}, {2, 3}, {3, 5}, {4, 7}} {
		k, n := kn[0], kn[1]
		c, err := erasure.New(k, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{0, 1, k - 1, k, k + 1, 100, 1000} {
			chunk := make([]byte, size)
			for i := range chunk {
				chunk[i] = byte(rng.Uint32())
			}
			buf := make([]byte, size, c.BufferSize(size))
			copy(buf, chunk)
			shards, err := c.Encode(nil, buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(shards) != n || len(shards[0]) != c.ShardSize(size) || &shards[0][0] != &buf[:1][0] {
				t.Fatalf("k=%d n=%d size=%d: %d shards of %d bytes, or not coded in place", k, n, size, len(shards), len(shards[0]))
			}
			vectors.Subsets(n, k, func(keep []bool) {
				got := make([][]byte, n)
				for i := range got {
					if keep[i] {
						got[i] = bytes.Clone(shards[i])
					}
				}
				out, err := c.Join(nil, got)
				if err != nil || !bytes.Equal(out, chunk) {
					t.Fatalf("k=%d n=%d size=%d subset %v: Join = %x, %v", k, n, size, keep, out, err)
				}
			})
			dataOnly := make([][]byte, n)
			copy(dataOnly, shards[:k])
			for i := k; i < n; i++ {
				dataOnly[i] = bytes.Repeat([]byte{0xee}, len(shards[i])) // never read
			}
			if out, err := c.Join(nil, dataOnly); err != nil || !bytes.Equal(out, chunk) {
				t.Fatalf("k=%d n=%d size=%d: Join of data shards = %v", k, n, size, err)
			}
		}
	}
}

func TestJoinRejects(t *testing.T) {
	c, err := erasure.New(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := c.Encode(nil, []byte("hello, shards"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(nil, [][]byte{shards[0], nil, nil, shards[3], nil}); !errors.Is(err, erasure.ErrTooFewShards) {
		t.Errorf("Join of 2 of 5 = %v, want ErrTooFewShards", err)
	}
	if _, err := c.Join(nil, [][]byte{shards[0], shards[1][:2], shards[2], nil, nil}); !errors.Is(err, erasure.ErrShardSize) {
		t.Errorf("Join of uneven shards = %v, want ErrShardSize", err)
	}
	if _, err := c.Join(nil, shards[:4]); err == nil {
		t.Error("Join of 4 entries for n=5 succeeded")
	}
	bad := [][]byte{shards[0], shards[1], bytes.Repeat([]byte{0}, len(shards[2])), nil, nil}
	if _, err := c.Join(nil, bad); !errors.Is(err, erasure.ErrBadPadding) {
		t.Errorf("Join with zero padding = %v, want ErrBadPadding", err)
	}
}

func FuzzUnpad(f *testing.F) {
	f.Add([]byte{1}, 1)
	f.Add([]byte{9, 3, 3, 3}, 3)
	f.Add([]byte{0}, 3)
	f.Add(bytes.Repeat([]byte{255}, 255), 255)
	f.Fuzz(func(t *testing.T, data []byte, k int) {
		out, err := erasure.Unpad(data, k)
		if err != nil {
			if !errors.Is(err, erasure.ErrBadPadding) {
				t.Fatalf("error %v is not ErrBadPadding", err)
			}
			return
		}
		pad := len(data) - len(out)
		if pad < 1 || pad > k || !bytes.Equal(out, data[:len(out)]) {
			t.Fatalf("Unpad(%x, %d) = %x", data, k, out)
		}
		for _, b := range data[len(out):] {
			if int(b) != pad {
				t.Fatalf("Unpad accepted padding %x", data[len(out):])
			}
		}
	})
}
