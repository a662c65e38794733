//go:build !race

package heifwasm

const raceEnabled = false
