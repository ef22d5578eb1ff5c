// Package names is the model of the registry's names (DESIGN §5): mutable
// keys whose value is a reference, changed only by changes signed with X25519
// identities, ordered by a per-name nonce and governed by an access list. It
// rebuilds the reference system's authorized key-value store, HoloKVS, and
// does no I/O: the registry's server applies changes with [Apply], its
// stores keep [State] values, and its client builds and signs [Change]
// values.
//
// # Names
//
// A name is a DNS label: 1 to 63 characters of a-z, 0-9 and '-', neither
// starting nor ending with '-' (so <name>.<domain> is a valid host name),
// and not 32 hexadecimal characters (so it never looks like a lookup hash).
// See [Check].
//
// # Principals and access lists
//
// A principal is the Mycelium address of an X25519 public key
// (xeddsa.PublicKey.Address): blake3_16(pubkey) with its first byte set to
// 0x04 | (popcount(first byte) % 2), so always in 400::/7. An [ACL] has two
// lists of principals: writers, who may write the value, and admins, who
// may write, delete and change the ACL.
//
// # Signed payload
//
// A [Change] is signed with XEdDSA (64 bytes) over the domain label
// "mycdn-names-v1" (14 bytes, no separator) followed by the reference's
// canonical encoding of the change, integers little-endian:
//
//	op         u8: 0 write, 1 delete, 2 set-ACL
//	key        u32 length, then the name's bytes
//	value      u32 length, then the value's bytes             (write only)
//	acl        u16 count, then per writer 0x00 + 16 bytes,
//	           u16 count, then per admin  0x00 + 16 bytes     (write and set-ACL)
//	nonce      u32
//	pubkey     32 bytes: the signer's X25519 public key
//
// The reference signs the same encoding, without the label, with VXEdDSA
// (96-byte signatures); mycdn uses plain XEdDSA as DESIGN §5 says, so
// signatures made for one do not verify in the other.
//
// # Rules
//
// [Apply] decides whether a change applies to a name's current state:
//
//   - the signature must verify under the change's public key;
//   - the nonce must be the name's nonce + 1 (a name never written is at 0),
//     so a change cannot be replayed and two changes signed with the same
//     nonce never both apply; a nonce further ahead is refused too, so a
//     writer cannot use up the nonces and freeze the name for its admins;
//   - a new name may be created by a write whose ACL lists the signer as an
//     admin: the creator becomes its admin;
//   - writers and admins may write a live name; a write carries the name's
//     current ACL unchanged (the signature covers it, so a write signed
//     before an ACL change is refused);
//   - admins may delete a name and change its ACL; an ACL always has an
//     admin;
//   - a deleted name keeps a tombstone: its nonce and its ACL stay, its
//     value is cleared. Only its admins may re-create it, with a write that
//     carries the kept ACL and the next nonce, so the changes signed before
//     the delete can never be replayed and nobody else can take the name
//     over. Admins may change a deleted name's ACL, to hand it over.
package names
