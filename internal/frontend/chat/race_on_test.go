//go:build race

package chat

// raceEnabled: the race detector makes parsing ~10x slower, so the
// hostile-body test checks the same shapes at one size only.
const raceEnabled = true
