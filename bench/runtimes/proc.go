package main

import "errors"

// errNoProc says that this system has no /proc to read another process's
// children from.
var errNoProc = errors.New("the children of a process are read from /proc, Linux only")

// errProcGone says that a process ended before its /proc file was read.
var errProcGone = errors.New("process gone")
