package main

import "github.com/urfave/cli/v2"

func prepCommand() *cli.Command {
	return &cli.Command{
		Name:  "prep",
		Usage: "(not built yet)",
		Action: func(c *cli.Context) error {
			return notBuilt("prep")
		},
	}
}
