// Command failinit prints "failing init" to stderr and exits with status 2 without ever contacting the Runtime API.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "failing init")
	os.Exit(2)
}
