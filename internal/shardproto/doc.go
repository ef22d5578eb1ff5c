// Package shardproto is what the shard store server and its client share:
// command names, access modes and rights, key rules, the RESP framing both
// ends write, and the Ed25519 login of Hero Redis.
//
// # Login
//
// A shard store speaks RESP2. A client that needs more than anonymous access
// logs in on each connection as the reference client (mycdnctl) does:
//
//	CHALLENGE                        -> 64 hex chars: 32 random bytes, single use,
//	                                    valid for ChallengeTTL on this connection
//	TOKEN <pubkey hex> <sig hex>     -> a session token; sig is the Ed25519
//	                                    signature of the 32 hex-decoded challenge
//	                                    bytes (a signature of the 64 ASCII hex
//	                                    characters is accepted too)
//	AUTH <token>                     -> +OK
//	SELECT <db>                      -> +OK
//
// A client that holds a session token skips the first two steps. AUTH also
// accepts a server's configured admin secret.
//
// # Session tokens
//
// Tokens are stateless: the server signs them with its own Ed25519 key and
// keeps nothing. A token is the ASCII text
//
//	mst1.<user pubkey, 64 hex>.<expiry, unix seconds>.<signature, 128 hex>
//
// where the signature is made by the server's token key over
//
//	"mycdn-shard-token-v1\x00" || user pubkey (32 bytes) || expiry (u64 big-endian)
//
// A token names who logged in and until when; what that key may do is looked
// up in the server's access lists on every command, so revoking a grant
// takes effect at once. Servers that share a token key accept each other's
// tokens.
package shardproto
