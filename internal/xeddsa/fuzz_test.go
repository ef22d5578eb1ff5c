package xeddsa

import (
	"testing"

	"github.com/mycdn/mycdn/internal/vectors"
)

// FuzzVerify feeds arbitrary keys, messages and signatures to Verify, which
// must not panic, and checks that a vector signature verifies only for its
// own message.
func FuzzVerify(f *testing.F) {
	v := vectors.LoadXEdDSA(f)
	for _, c := range v.Cases {
		f.Add([]byte(c.Pub), []byte(c.Msg), []byte(c.Sig))
		f.Add([]byte(c.Pub), []byte(c.Msg), []byte(c.LegacySig))
	}
	f.Add(make([]byte, 32), []byte{}, make([]byte, 64))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != PublicKeySize {
			return
		}
		p := PublicKey(pub)
		if Verify(&p, msg, sig) {
			for _, c := range v.Cases {
				if string(c.Pub) == string(pub) && string(c.Sig) == string(sig) && string(c.Msg) != string(msg) {
					t.Fatalf("vector signature verifies for message %x", msg)
				}
			}
		}
	})
}

// FuzzSign checks that every signature verifies, and not for another message.
func FuzzSign(f *testing.F) {
	v := vectors.LoadXEdDSA(f)
	for _, c := range v.Cases {
		f.Add([]byte(c.Priv), []byte(c.Msg), []byte(c.Z))
	}
	f.Fuzz(func(t *testing.T, priv, msg, z []byte) {
		if len(priv) != PrivateKeySize || len(z) != RandomSize {
			return
		}
		k := PrivateKey(priv)
		pub := k.PublicKey()
		sig := SignWithRandom(&k, msg, (*[RandomSize]byte)(z))
		if !Verify(&pub, msg, sig) {
			t.Fatalf("signature by %x over %x does not verify", priv, msg)
		}
		if Verify(&pub, append(msg, 1), sig) {
			t.Fatal("signature verifies for a longer message")
		}
	})
}
