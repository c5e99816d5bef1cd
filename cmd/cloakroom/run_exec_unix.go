//go:build unix

package main

import (
	"fmt"
	"io"
	"syscall"
)

// execCommand replaces this process with the command: it inherits the terminal,
// stdin, stdout and stderr, receives every signal sent to cloakroom run, and its
// exit status is the process's. It returns only when the exec fails.
func execCommand(path string, argv, env []string, stderr io.Writer) int {
	err := syscall.Exec(path, argv, env)
	fmt.Fprintf(stderr, "cloakroom run: %s: %v\n", argv[0], err)
	return exitCannotRun
}
