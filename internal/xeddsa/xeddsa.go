// Package xeddsa signs and verifies with X25519 keys, as the XEdDSA
// specification of Signal (revision 1, 2016) defines it, and derives the
// Mycelium address of an X25519 key.
//
// A signature is R || s, 64 bytes. The signer turns its X25519 private key k
// into an Edwards key pair whose public point A has sign bit 0 (a = k or -k
// mod L), takes r = hash_1(a || M || Z) mod L for 64 random bytes Z, and
// computes R = rB, h = SHA-512(R || A || M) mod L, s = r + h*a mod L, where
// hash_i(X) = SHA-512((2^256 - 1 - i) as 32 little-endian bytes || X).
// Verification is Ed25519 verification (cofactorless, R compared as bytes)
// against the Edwards point of the X25519 public key u with sign bit 0; it
// rejects u >= p, s >= L and a non-canonical R.
package xeddsa

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"github.com/zeebo/blake3"
)

// Sizes of keys, signatures and the signer's random input, in bytes.
const (
	PrivateKeySize = 32
	PublicKeySize  = 32
	SignatureSize  = 64
	RandomSize     = 64
)

// PrivateKey is an X25519 private key: 32 bytes, clamped when used.
type PrivateKey [PrivateKeySize]byte

// PublicKey is an X25519 public key: the Montgomery u coordinate, 32 bytes
// little-endian.
type PublicKey [PublicKeySize]byte

// GenerateKey returns a new private key from crypto/rand.
func GenerateKey() PrivateKey {
	var k PrivateKey
	rand.Read(k[:]) // never fails; it crashes the program instead
	return k
}

// ParsePrivateKey parses 64 hexadecimal characters, with an optional "0x"
// as the reference's configuration allows.
func ParsePrivateKey(s string) (PrivateKey, error) {
	var k PrivateKey
	err := parseHex(k[:], strings.TrimPrefix(s, "0x"))
	if err != nil {
		return k, fmt.Errorf("x25519 private key: %w", err)
	}
	return k, nil
}

// ParsePublicKey parses 64 hexadecimal characters.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	if err := parseHex(p[:], s); err != nil {
		return p, fmt.Errorf("x25519 public key: %w", err)
	}
	return p, nil
}

func parseHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex characters, got %d", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("bad hex: %w", err)
	}
	return nil
}

// PublicKey returns the X25519 public key of k: X25519(k, 9).
func (k *PrivateKey) PublicKey() PublicKey {
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		panic(err) // every 32-byte string is an X25519 private key
	}
	return PublicKey(priv.PublicKey().Bytes())
}

// String returns p as 64 lowercase hexadecimal characters.
func (p PublicKey) String() string { return hex.EncodeToString(p[:]) }

// Address returns the Mycelium overlay address of p: the first 16 bytes of
// BLAKE3(p) with the first byte replaced by 0x04 | (popcount(first byte) % 2).
// Its String is the IPv6 text form Mycelium prints.
func (p PublicKey) Address() netip.Addr {
	d := blake3.Sum256(p[:])
	var a [16]byte
	copy(a[:], d[:16])
	a[0] = 0x04 | byte(bits.OnesCount8(a[0])%2)
	return netip.AddrFrom16(a)
}

// hash1Prefix is (2^256 - 1 - 1) as 32 little-endian bytes: the domain
// separator of hash_1.
var hash1Prefix = func() (p [32]byte) {
	for i := range p {
		p[i] = 0xff
	}
	p[0] = 0xfe
	return p
}()

// Sign signs msg with k and 64 bytes from crypto/rand as Z.
func Sign(k *PrivateKey, msg []byte) []byte {
	var z [RandomSize]byte
	rand.Read(z[:]) // never fails; it crashes the program instead
	return SignWithRandom(k, msg, &z)
}

// SignWithRandom signs msg with k and the given random input Z. The same
// inputs give the same signature, which is what test vectors need; Z must be
// secret and fresh for each signature, so use [Sign] otherwise.
func SignWithRandom(k *PrivateKey, msg []byte, z *[RandomSize]byte) []byte {
	a, encA := keyPair(k)
	h := sha512.New()
	h.Write(hash1Prefix[:])
	h.Write(a.Bytes())
	h.Write(msg)
	h.Write(z[:])
	return sign(a, encA, uniformScalar(h.Sum(nil)), msg)
}

// sign returns R || s for the Edwards scalar a, its encoded point encA and
// the nonce scalar r.
func sign(a *edwards25519.Scalar, encA []byte, r *edwards25519.Scalar, msg []byte) []byte {
	sig := make([]byte, 0, SignatureSize)
	sig = append(sig, new(edwards25519.Point).ScalarBaseMult(r).Bytes()...)
	h := sha512.New()
	h.Write(sig)
	h.Write(encA)
	h.Write(msg)
	s := new(edwards25519.Scalar).MultiplyAdd(uniformScalar(h.Sum(nil)), a, r)
	return append(sig, s.Bytes()...)
}

// keyPair returns the Edwards scalar a and the encoded public point A = aB of
// k, chosen so that A has sign bit 0.
func keyPair(k *PrivateKey) (*edwards25519.Scalar, []byte) {
	a, err := new(edwards25519.Scalar).SetBytesWithClamping(k[:])
	if err != nil {
		panic(err) // k has the right length
	}
	pubA := new(edwards25519.Point).ScalarBaseMult(a).Bytes()
	if pubA[31]&0x80 != 0 {
		a.Negate(a)
		pubA[31] &^= 0x80
	}
	return a, pubA
}

func uniformScalar(digest []byte) *edwards25519.Scalar {
	s, err := new(edwards25519.Scalar).SetUniformBytes(digest)
	if err != nil {
		panic(err) // a SHA-512 digest has the 64 bytes it needs
	}
	return s
}

// Verify reports whether sig is a valid XEdDSA signature of msg by pub. It
// rejects signatures of the wrong length, u >= p, s >= L, public keys with no
// Edwards point and non-canonical R. It runs in variable time, which is safe
// because everything it handles is public.
func Verify(pub *PublicKey, msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	pubA, encA, ok := edwardsPoint(pub)
	if !ok {
		return false
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(encA)
	h.Write(msg)
	hs := uniformScalar(h.Sum(nil))
	// R' = sB - hA
	check := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(hs, new(edwards25519.Point).Negate(pubA), s)
	return subtle.ConstantTimeCompare(check.Bytes(), sig[:32]) == 1
}

// edwardsPoint converts the Montgomery u of pub to the Edwards point with
// y = (u - 1) / (u + 1) and sign bit 0, returning it and its encoding. It
// fails for u >= p and for a y that is not on the curve.
func edwardsPoint(pub *PublicKey) (*edwards25519.Point, []byte, bool) {
	u, err := new(field.Element).SetBytes(pub[:])
	if err != nil || subtle.ConstantTimeCompare(u.Bytes(), pub[:]) != 1 {
		return nil, nil, false // SetBytes ignores bit 255 and reduces mod p
	}
	one := new(field.Element).One()
	num := new(field.Element).Subtract(u, one)
	den := new(field.Element).Add(u, one)
	y := new(field.Element).Multiply(num, den.Invert(den))
	enc := y.Bytes() // canonical, so its bit 255, the sign bit, is 0
	p, err := new(edwards25519.Point).SetBytes(enc)
	if err != nil {
		return nil, nil, false
	}
	return p, enc, true
}
