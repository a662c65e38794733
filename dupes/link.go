package dupes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Link makes a folder of symbolic links per group under dir, for review in
// a file browser: group-0001/01-keep-NAME for the suggested keeper, then
// 02-NAME, ... for the others, in the order of Members. Members whose file
// is missing get no link. dir must not exist or be empty, so that links
// from an earlier run never mix with these; nothing else is touched.
func Link(dir string, groups []Group) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("link groups: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("link groups: %s is not empty: give a new folder (nothing was linked)", dir)
	}
	for gi, g := range groups {
		sub := filepath.Join(dir, fmt.Sprintf("group-%04d", gi+1))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("link groups: %w", err)
		}
		for mi, m := range g.Members {
			if m.Missing {
				continue
			}
			name := fmt.Sprintf("%02d-%s", mi+1, filepath.Base(m.Metadata.Path))
			if m.ID == g.Keeper {
				name = fmt.Sprintf("%02d-keep-%s", mi+1, filepath.Base(m.Metadata.Path))
			}
			if err := os.Symlink(m.Metadata.Path, filepath.Join(sub, name)); err != nil {
				return fmt.Errorf("link groups: %w", err)
			}
		}
	}
	return nil
}
