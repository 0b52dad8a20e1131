// Command gpu-report is the part of the gpu-check bundle (make gpu-check,
// docs/gpu.md) that run.sh cannot do well in shell: it runs every test of
// the CUDA test binaries in a process of its own ("tests"), and it gathers
// every stage's files into one summary.json and a stdout summary of at most
// 40 lines ("summarize"). It is built static (no cgo), so it runs wherever
// the bundle lands, even where the CUDA binaries cannot.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  gpu-report tests --out DIR [--device cuda:0] [--per-test 2m] BINARY...
  gpu-report summarize --out DIR --bundle DIR --budget S --elapsed S`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gpu-report:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	switch args[0] {
	case "tests":
		return runTests(args[1:], stdout)
	case "summarize":
		return summarize(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
