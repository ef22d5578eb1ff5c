package xeddsa

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"net/netip"
	"testing"

	"filippo.io/edwards25519"

	"github.com/mycdn/mycdn/internal/vectors"
)

func TestVectors(t *testing.T) {
	v := vectors.LoadXEdDSA(t)
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			k := PrivateKey(c.Priv)
			pub := k.PublicKey()
			if !bytes.Equal(pub[:], c.Pub) {
				t.Fatalf("public key %x, want %x", pub, c.Pub)
			}
			sig := SignWithRandom(&k, c.Msg, (*[RandomSize]byte)(c.Z))
			if !bytes.Equal(sig, c.Sig) {
				t.Fatalf("signature\n got %x\nwant %x", sig, c.Sig)
			}
			if !Verify(&pub, c.Msg, c.Sig) {
				t.Fatal("vector signature does not verify")
			}
			if got := Verify(&pub, c.Msg, c.LegacySig); got != c.ExpectLegacyVerifies {
				t.Fatalf("legacy signature verifies = %v, want %v", got, c.ExpectLegacyVerifies)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	v := vectors.LoadXEdDSA(t)
	c, other := v.Cases[2], v.Cases[0]
	pub, otherPub := PublicKey(c.Pub), PublicKey(other.Pub)
	msg, sig := c.Msg, c.Sig

	t.Run("wrong key", func(t *testing.T) {
		if Verify(&otherPub, msg, sig) {
			t.Fatal("verified with another key")
		}
	})
	t.Run("other message", func(t *testing.T) {
		if Verify(&pub, append(bytes.Clone(msg), 0), sig) || Verify(&pub, msg[1:], sig) {
			t.Fatal("verified another message")
		}
	})
	t.Run("flipped bit", func(t *testing.T) {
		for i := range 8 * len(sig) {
			bad := bytes.Clone(sig)
			bad[i/8] ^= 1 << (i % 8)
			if Verify(&pub, msg, bad) {
				t.Fatalf("verified with bit %d flipped", i)
			}
		}
		for i := range 8 * len(msg) {
			bad := bytes.Clone(msg)
			bad[i/8] ^= 1 << (i % 8)
			if Verify(&pub, bad, sig) {
				t.Fatalf("verified a message with bit %d flipped", i)
			}
		}
	})
	t.Run("wrong length", func(t *testing.T) {
		if Verify(&pub, msg, sig[:63]) || Verify(&pub, msg, append(bytes.Clone(sig), 0)) || Verify(&pub, msg, nil) {
			t.Fatal("verified a signature of the wrong length")
		}
	})
	t.Run("s >= L", func(t *testing.T) {
		// s + L is the same scalar mod L: a verifier that reduces s accepts it.
		bad := append(bytes.Clone(sig[:32]), leAdd(sig[32:], orderL)...)
		if Verify(&pub, msg, bad) {
			t.Fatal("verified s + L")
		}
	})
	t.Run("u with bit 255", func(t *testing.T) {
		bad := pub
		bad[31] |= 0x80
		if Verify(&bad, msg, sig) {
			t.Fatal("verified against u + 2^255")
		}
	})
}

// TestNonCanonical checks u >= p and non-canonical R with signatures made for
// chosen scalars: u = 9 is the X25519 base point, whose Edwards point B has
// sign bit 0, so a = 1; r = 0 makes R the identity.
func TestNonCanonical(t *testing.T) {
	msg := []byte("mycdn")
	one := scalar(t, 1)
	encB := edwards25519.NewGeneratorPoint().Bytes()
	nine := PublicKey{9}

	t.Run("u >= p", func(t *testing.T) {
		r := scalar(t, 12345)
		sig := sign(one, encB, r, msg)
		if !Verify(&nine, msg, sig) {
			t.Fatal("signature by a = 1 does not verify against u = 9")
		}
		bad := PublicKey(leAdd(nine[:], fieldP))
		if Verify(&bad, msg, sig) {
			t.Fatal("verified against u = 9 + p")
		}
	})
	t.Run("R not canonical", func(t *testing.T) {
		sig := sign(one, encB, scalar(t, 0), msg)
		identity := make([]byte, 32)
		identity[0] = 1
		if !bytes.Equal(sig[:32], identity) {
			t.Fatalf("R = %x, want the identity", sig[:32])
		}
		if !Verify(&nine, msg, sig) {
			t.Fatal("signature with R = identity does not verify")
		}
		for name, r := range map[string][]byte{
			"y = 1 + p":     leAdd(identity, fieldP),
			"x = 0, sign 1": append(bytes.Clone(identity[:31]), 0x80),
		} {
			bad := append(r, sig[32:]...)
			if Verify(&nine, msg, bad) {
				t.Errorf("verified with R encoded as %s", name)
			}
		}
	})
}

func TestSignVerify(t *testing.T) {
	for range 20 {
		k := GenerateKey()
		pub := k.PublicKey()
		msg := []byte("mycdn-registry-v1\nPUT\n/api/v1/metadata/x\n")
		sig := Sign(&k, msg)
		if !Verify(&pub, msg, sig) {
			t.Fatalf("key %x: signature does not verify", k)
		}
		if bytes.Equal(Sign(&k, msg), sig) {
			t.Fatal("two signatures with fresh Z are equal")
		}
	}
}

func TestParse(t *testing.T) {
	v := vectors.LoadXEdDSA(t)
	c := v.Cases[0]
	k, err := ParsePrivateKey("0x" + hex.EncodeToString(c.Priv))
	if err != nil || !bytes.Equal(k[:], c.Priv) {
		t.Fatalf("ParsePrivateKey with 0x: %x, %v", k, err)
	}
	p, err := ParsePublicKey(hex.EncodeToString(c.Pub))
	if err != nil || p.String() != hex.EncodeToString(c.Pub) {
		t.Fatalf("ParsePublicKey: %v, %v", p, err)
	}
	for _, bad := range []string{"", "00", hex.EncodeToString(c.Pub) + "00", "zz" + hex.EncodeToString(c.Pub)[2:], "0x" + hex.EncodeToString(c.Pub)} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

func TestAddress(t *testing.T) {
	v := vectors.LoadXEdDSA(t)
	for _, c := range v.Cases {
		pub := PublicKey(c.Pub)
		want := vectors.XOF(string(c.Pub), 16)
		ones := 0
		for i := range 8 {
			ones += int(want[0] >> i & 1)
		}
		want[0] = 0x04 | byte(ones&1)
		got := pub.Address()
		if got != netip.AddrFrom16([16]byte(want)) {
			t.Errorf("%s: address %v, want %x", c.Name, got, want)
		}
		if !netip.MustParsePrefix("400::/7").Contains(got) || netip.MustParseAddr(got.String()) != got {
			t.Errorf("%s: address %v is not a Mycelium IPv6 address", c.Name, got)
		}
	}
}

var (
	fieldP = le(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19)))
	orderL = le(func() *big.Int {
		l, _ := new(big.Int).SetString("27742317777372353535851937790883648493", 10)
		return l.Add(l, new(big.Int).Lsh(big.NewInt(1), 252))
	}())
)

// le returns x as 32 little-endian bytes.
func le(x *big.Int) []byte {
	b := x.FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// leAdd returns a + b for 32-byte little-endian numbers; the sum must fit.
func leAdd(a, b []byte) []byte {
	out := make([]byte, 32)
	carry := 0
	for i := range out {
		s := int(a[i]) + int(b[i]) + carry
		out[i], carry = byte(s), s>>8
	}
	if carry != 0 {
		panic("leAdd overflows")
	}
	return out
}

func scalar(t *testing.T, x uint64) *edwards25519.Scalar {
	t.Helper()
	b := make([]byte, 32)
	for i := range 8 {
		b[i] = byte(x >> (8 * i))
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func BenchmarkSign(b *testing.B) {
	k := GenerateKey()
	msg := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		Sign(&k, msg)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := GenerateKey()
	pub := k.PublicKey()
	msg := make([]byte, 100)
	sig := Sign(&k, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(&pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}
