//go:build unix

package server

import (
	"os"
	"syscall"
	"testing"
)

// mkfifo makes a FIFO at path, and releases at the test's end a reader
// blocked on it, so that a test of code that wrongly opens it still ends.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}
