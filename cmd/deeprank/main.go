// Command deeprank learns fine-grained image similarity from triplets
// (Wang et al., CVPR 2014) and evaluates the models it learns.
//
// Exit status: 0 on success, 1 on failure, 2 for a usage or configuration
// error, 3 when ingest stored what it could but some files failed, 10 when
// sync changed the collection, 130 when interrupted (Ctrl-C or SIGTERM).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/server"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// Exit codes, documented in the root command's help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPartial     = 3
	exitChanged     = 10
	exitInterrupted = 130
)

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startCPUProfile(os.Getenv("DEEPRANK_CPUPROFILE"))
	err := newRootCmd().ExecuteContext(ctx)
	stopProfile()
	if err != nil && !errors.Is(err, errChanged) {
		fmt.Fprintln(os.Stderr, "deeprank:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	switch {
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue), isConfigError(err):
		return exitUsage
	case errors.Is(err, errPartial):
		return exitPartial
	case errors.Is(err, errChanged):
		return exitChanged
	}
	return exitFailure
}

// isConfigError reports whether err is an impossible configuration value:
// config wraps every section's error in config.ErrInvalid, and each
// section's own sentinel is matched too, for errors that come straight
// from a section's Validate (training options, or a store opened with
// options checked only there).
func isConfigError(err error) bool {
	for _, target := range []error{config.ErrInvalid, trainconfig.ErrInvalid, ingest.ErrInvalidConfig,
		server.ErrInvalidConfig, milvusconfig.ErrInvalid} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// startCPUProfile writes a CPU profile of the whole command to path (for
// go tool pprof), when path is not empty, until the function it returns is
// called. It is for measuring deeprank itself (DEEPRANK_CPUPROFILE), so a
// profile that cannot be written is reported and the command goes on.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deeprank: cpu profile:", err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "deeprank: cpu profile:", err)
		}
	}
}
