package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"
)

// "gatewayd prune [-dry-run]": run the retention pruner now, or say what it
// would remove, through the running gateway's API (like "deliveries": the
// embedded store is locked by the running gateway).
func pruneCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	flags := flag.NewFlagSet("gatewayd prune", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	dry := flags.Bool("dry-run", false, "say what would be removed; remove nothing")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w\nusage: gatewayd prune [-dry-run]  (GATEWAY_URL, GATEWAY_TOKEN as for deliveries)", err)
	}
	api, err := newAPIClient(getenv)
	if err != nil {
		return err
	}
	var res struct {
		Before  map[string]time.Time `json:"before"`
		Removed map[string]int       `json:"removed"`
	}
	if err := api.call(ctx, http.MethodPost, "/v1/prune", map[string]bool{"dryRun": *dry}, &res); err != nil {
		return err
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	classes := make([]string, 0, len(res.Before))
	for c := range res.Before {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		fmt.Fprintf(stdout, "%s: %s %d older than %s\n", c, verb, res.Removed[c], res.Before[c].UTC().Format(time.RFC3339))
	}
	if len(classes) == 0 {
		fmt.Fprintln(stdout, "retention keeps everything: nothing to prune")
	}
	return nil
}
