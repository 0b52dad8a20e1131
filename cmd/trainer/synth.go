package main

import "github.com/urfave/cli/v2"

func synthCommand() *cli.Command {
	return &cli.Command{
		Name:  "synth",
		Usage: "(not built yet)",
		Action: func(c *cli.Context) error {
			return notBuilt("synth")
		},
	}
}
