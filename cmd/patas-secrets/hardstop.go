package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// shutdownBound is how long once, run and check may take to finish after SIGTERM or
// SIGINT. Every wait of theirs is cancellable, so they normally end at once; this bounds
// the case where a goroutine they wait for is stuck in the kernel (a read on a hung NFS or
// FUSE mount), which no context can interrupt. Orchestrators send SIGKILL after their own
// grace period (Kubernetes 30 s, Docker 10 s); this ends the process before that.
const shutdownBound = 8 * time.Second

// hardStop exits the process with exitFailed when ctx has been cancelled for longer than
// shutdownBound, unless the returned stop is called first (the command returned). No
// output is touched: every output write is a rename, whole or not at all.
func hardStop(ctx context.Context, stderr io.Writer) (stop func()) {
	returned := make(chan struct{})
	go func() {
		select {
		case <-returned:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(shutdownBound)
		defer t.Stop()
		select {
		case <-returned:
		case <-t.C:
			fmt.Fprintf(stderr, "patas-secrets: still stuck %s after the stop signal (a read the kernel does not release); exiting\n", shutdownBound)
			os.Exit(exitFailed)
		}
	}()
	return func() { close(returned) }
}
