package embedded

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// acquire takes the store's writer lock: an exclusive lock on the LOCK
// file, which then holds the writer's process id for the messages of
// those who wait. The lock goes with the process, so a writer killed with
// SIGKILL never leaves it held.
func acquire(path string, wait time.Duration, onWait func(pid int)) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	waiting := false
	for {
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !held {
			if err := f.Truncate(0); err == nil {
				f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			}
			return f, nil
		}
		pid := holder(path)
		if !time.Now().Before(deadline) {
			f.Close()
			who := "another process"
			if pid > 0 {
				who = fmt.Sprintf("process %d", pid)
			}
			return nil, fmt.Errorf("%w: %s holds %s (waited %s; a reader never needs the lock, a writer waits for the one before it)", ErrLocked, who, path, wait)
		}
		if !waiting && onWait != nil {
			onWait(pid)
		}
		waiting = true
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
	}
}

// holder reads the writer's process id from the lock file, 0 if unknown.
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
