// Package store keeps the values of a shard store durably on disk: large
// values in files of their own, small values and all bookkeeping in Pebble.
//
// # Layout
//
//	DIR/index/           Pebble: the index, small values, databases, grants
//	DIR/blobs/XX/ID      one file per large value; ID is 16 hex digits and
//	                     XX its last two
//
// Pebble keys:
//
//	'k' db(u16) key      -> record of the value under key in database db
//	'f' id(u64)          -> db(u16) key: the record that owns blob file id
//	'd' db(u16)          -> mode byte of a database made with DB.CREATE
//	'g' db(u16) pubkey   -> right byte of a grant made with ACL.GRANT
//	's' name             -> a secret the server keeps, such as its token key
//
// A record is a version byte (1), a flags byte (bit 0: the value is inline),
// the size as a uvarint, the expiry in Unix milliseconds as a varint (0: none),
// the 32-byte BLAKE3-256 digest of the value, then either the value itself
// (inline) or the blob file id as a big-endian u64.
//
// # Durability
//
// [Store.Put] returns only once the value is on stable storage. A large value
// is written to a new file under a fresh id, the file and its directory are
// synced, and then one synced Pebble batch points the key at it (and drops
// the previous file's 'f' entry); the previous file is removed afterwards. A
// crash at any point leaves either the old value or the new one, never a
// mix: a file that no 'f' entry names is an orphan, removed by [Open]. Small
// values go into the synced batch directly.
package store
