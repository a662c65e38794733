//go:build !unix

package server

import "testing"

func mkfifo(t *testing.T, path string) {
	t.Skip("no FIFOs on this system")
}
