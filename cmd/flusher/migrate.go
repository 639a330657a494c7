package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/watchparty/watchparty/internal/config"
	"github.com/watchparty/watchparty/internal/store"
)

func newMigrateCmd() *cobra.Command {
	var databaseURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the database if needed and apply migrations, then exit",
		Args:  cobra.NoArgs,
	}
	finish := config.FlusherMigrate(&databaseURL).Bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		if err := store.Migrate(cmd.Context(), databaseURL); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
		return nil
	}
	return cmd
}
