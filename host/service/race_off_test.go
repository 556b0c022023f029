//go:build !race

package service

// raceEnabled: this test binary runs under the race detector.
const raceEnabled = false
