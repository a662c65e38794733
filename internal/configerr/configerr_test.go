package configerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestNew(t *testing.T) {
	sentinel := errors.New("invalid section")
	other := errors.New("invalid other section")
	cause := errors.New("the cause")
	err := New(sentinel, "section.key: %d is %w", 3, cause)
	if got, want := err.Error(), "section.key: 3 is the cause"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if !errors.Is(err, sentinel) || !errors.Is(err, cause) || errors.Is(err, other) {
		t.Errorf("errors.Is: sentinel %v, cause %v, other section %v; want true, true, false",
			errors.Is(err, sentinel), errors.Is(err, cause), errors.Is(err, other))
	}
	wrapped := fmt.Errorf("%w: %w", other, err)
	if !errors.Is(wrapped, sentinel) || !errors.Is(wrapped, other) {
		t.Errorf("wrapped in another sentinel, it no longer matches both: %v", wrapped)
	}
}
