//go:build race

package testenv

// raceEnabled says the test binary runs with the race detector, so the
// project's binaries it starts are built with it too.
const raceEnabled = true
