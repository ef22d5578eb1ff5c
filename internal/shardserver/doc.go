// Package shardserver serves a shard store over the Redis protocol (RESP2)
// with the Hero Redis login, so that the reference client and gateway, stock
// Redis clients and our own client can use it.
//
// Values are kept by package store: a SET is acknowledged only once the
// value is on stable storage. The server reads commands with a RESP reader
// of its own rather than a generic Redis server library, because it must
// bound what a client can make it hold: before a connection may write, each
// command is limited to Options.PreauthBytes; after, every argument but one
// value is limited to 64 KiB, the value to Options.MaxValue, and all values
// being received at once to Options.InflightBytes. A client that goes over a
// limit, or breaks the protocol, is answered with an error and disconnected.
// Values stored in files are sent to the socket with sendfile.
//
// The commands, the login flow and the access model are documented in
// docs/shard.md. In short: databases are private, public-read or public-rw;
// Ed25519 public keys get read, write or admin rights in them; keys log in
// with CHALLENGE, TOKEN and AUTH (see package shardproto); server admins
// (configured keys, or the admin secret) create databases with DB.CREATE,
// and database admins manage rights with ACL.GRANT, ACL.REVOKE and ACL.LIST.
package shardserver
