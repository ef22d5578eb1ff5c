// Package testenv starts the real servers tests talk to, on free loopback
// ports, and stops them when the tests are done.
package testenv
