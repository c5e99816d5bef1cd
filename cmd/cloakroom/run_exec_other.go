//go:build !unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
)

// execCommand runs the command as a child with this process's stdin, stdout and
// stderr, passes on interrupts, and returns its exit code (where exec(2) does not
// exist).
func execCommand(path string, argv, env []string, stderr io.Writer) int {
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "cloakroom run: %s: %v\n", argv[0], err)
		return exitCannotRun
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		fmt.Fprintf(stderr, "cloakroom run: %s: %v\n", argv[0], err)
		return exitCannotRun
	}
}
