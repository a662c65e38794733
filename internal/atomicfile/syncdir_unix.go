//go:build !windows

package atomicfile

import "os"

// SyncDir fsyncs a folder, making the creations, renames and removals in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
