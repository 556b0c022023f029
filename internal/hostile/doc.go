// Package hostile holds the end-to-end hostile test of a running service: misbehaving
// modules built from source, slow and abusive clients, each under a background load of
// ordinary calls that must all succeed. See docs/security.md for the guarantees it checks.
package hostile
