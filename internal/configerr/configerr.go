// Package configerr makes the errors of a configuration section's
// Validate (ingest.Config, server.Config, trainconfig.Options,
// milvusconfig.Config): the text is the message alone, naming the key, and
// the error matches the section's sentinel with errors.Is without the
// sentinel's text in it, so that package config can put its own
// ErrInvalid in front and the CLI can map either to an exit status.
package configerr

import "fmt"

// New returns an error whose text is fmt.Errorf(format, args...)'s (a %w
// in format wraps as there) and that matches sentinel with errors.Is.
func New(sentinel error, format string, args ...any) error {
	return sectionError{sentinel: sentinel, err: fmt.Errorf(format, args...)}
}

// sectionError is an error of a section's Validate.
type sectionError struct {
	sentinel error
	err      error
}

func (e sectionError) Error() string        { return e.err.Error() }
func (e sectionError) Unwrap() error        { return e.err }
func (e sectionError) Is(target error) bool { return target == e.sentinel }
