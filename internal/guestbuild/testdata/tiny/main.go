// Package main is the smallest Go guest, for guestbuild's cache test.
package main

func main() {}
