package shardproto_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/mycdn/mycdn/internal/shardproto"
)

func TestAppend(t *testing.T) {
	var b []byte
	b = shardproto.AppendCommand(b, []byte("SET"), []byte("k"), []byte(""))
	b = shardproto.AppendNull(b)
	b = shardproto.AppendInt(b, -7)
	b = shardproto.AppendSimple(b, "OK")
	b = shardproto.AppendError(b, "ERR a\r\nb")
	want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$-1\r\n:-7\r\n+OK\r\n-ERR a  b\r\n"
	if string(b) != want {
		t.Fatalf("got %q\nwant %q", b, want)
	}
}

func TestParseLength(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int64
		want int64
		ok   bool
	}{
		{"0", 10, 0, true},
		{"10", 10, 10, true},
		{"-1", 10, -1, true},
		{"11", 10, 0, false},
		{"", 10, 0, false},
		{"01", 10, 0, false},
		{"-2", 10, 0, false},
		{"+1", 10, 0, false},
		{"1 ", 10, 0, false},
		{"1073741824", 1 << 30, 1 << 30, true},
		{"9999999999999999999", 1 << 62, 0, false},
		{"99999999999999999999", 1 << 62, 0, false},
	} {
		got, err := shardproto.ParseLength([]byte(tc.in), tc.max)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseLength(%q, %d) = %d, %v", tc.in, tc.max, got, err)
		}
		if err != nil && !errors.Is(err, shardproto.ErrBadLength) {
			t.Errorf("ParseLength(%q): error %v is not ErrBadLength", tc.in, err)
		}
	}
}

// FuzzParseLength checks that accepted lengths are exactly the canonical
// decimals in range.
func FuzzParseLength(f *testing.F) {
	for _, s := range []string{"0", "-1", "5242897", "8388608", "1073741824", "9223372036854775807", "01", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 8 << 20
		n, err := shardproto.ParseLength(b, max)
		if err != nil {
			return
		}
		if n < -1 || n > max || strconv.FormatInt(n, 10) != string(b) {
			t.Fatalf("ParseLength(%q) = %d", b, n)
		}
	})
}
