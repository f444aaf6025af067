package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// "gatewayd deliveries ls|replay|cancel": the operator's command line.
// It talks to the running gateway's API rather than to the store: the
// embedded store is locked by the running gateway, and through the API
// every action is authorised, audited and wakes the dispatchers at once,
// exactly as the console's. The token comes from GATEWAY_TOKEN (never a
// flag, which other users could read in the process list).

const deliveriesUsage = `usage:
  gatewayd deliveries ls     [-destination D] [-state S] [-report ID] [-limit N] [-json]
  gatewayd deliveries replay (-state S (-destination D | -all) [-yes] | ID...)
  gatewayd deliveries cancel (-state S (-destination D | -all) [-yes] | ID...)
replay sends dead or cancelled deliveries again and retrying ones now; -all acts on a state's
deliveries at every destination
environment: GATEWAY_URL (default http://127.0.0.1:8080), GATEWAY_TOKEN (an operator's token),
             GATEWAY_CA_FILE (the CA that signed the gateway's certificate, if not a public one)`

// apiClient calls the gateway's API as an operator.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newAPIClient(getenv func(string) string) (*apiClient, error) {
	base := strings.TrimRight(getenv("GATEWAY_URL"), "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	token := getenv("GATEWAY_TOKEN")
	if token == "" {
		return nil, errors.New("set GATEWAY_TOKEN to an operator's token")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if ca := getenv("GATEWAY_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", ca)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &apiClient{base: base, token: token, http: &http.Client{Transport: transport, Timeout: 2 * time.Minute}}, nil
}

// call sends a request and decodes a 2xx answer into out; any other
// answer becomes an error carrying the gateway's own message.
func (a *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode/100 != 2 {
		var oo struct {
			Issue []struct{ Diagnostics string }
		}
		if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 {
			var msgs []string
			for _, i := range oo.Issue {
				msgs = append(msgs, i.Diagnostics)
			}
			return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, strings.Join(msgs, "; "))
		}
		return fmt.Errorf("%s %s: %d: %.200s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

type listedDelivery struct {
	ID           string    `json:"id"`
	ReportID     string    `json:"reportId"`
	Version      int       `json:"version"`
	Destination  string    `json:"destination"`
	State        string    `json:"state"`
	UpdatedAt    time.Time `json:"updatedAt"`
	AttemptCount int       `json:"attemptCount"`
	LastError    string    `json:"lastError"`
	Reason       string    `json:"reason"`
}

func deliveriesCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(deliveriesUsage)
	}
	verb := args[0]
	flags := flag.NewFlagSet("gatewayd deliveries "+verb, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	dest := flags.String("destination", "", "destination name")
	state := flags.String("state", "", "delivery state")
	report := flags.String("report", "", "report id (ls)")
	limit := flags.Int("limit", 100, "how many to list (ls; 0: all)")
	asJSON := flags.Bool("json", false, "one JSON object per line (ls)")
	yes := flags.Bool("yes", false, "act on every delivery the filter matches (replay, cancel)")
	every := flags.Bool("all", false, "every destination's deliveries in the state (replay, cancel)")
	if err := flags.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w\n%s", err, deliveriesUsage)
	}
	api, err := newAPIClient(getenv)
	if err != nil {
		return err
	}
	switch verb {
	case "ls":
		if *dest != "" {
			if err := knownDestination(ctx, api, *dest); err != nil {
				return err
			}
		}
		return listDeliveries(ctx, api, url.Values{"destination": {*dest}, "state": {*state}, "report": {*report}}, *limit, *asJSON, stdout)
	case "replay", "cancel":
		if ids := flags.Args(); len(ids) > 0 {
			if *dest != "" || *state != "" {
				return errors.New("name ids, or a destination and state, not both")
			}
			return bulkDeliveries(ctx, api, verb, map[string]any{"ids": ids, "expect": len(ids)}, stdout)
		}
		if *state == "" {
			return fmt.Errorf("%s: name delivery ids, or -state and -destination (or -all)\n%s", verb, deliveriesUsage)
		}
		allowed := map[string][]string{"replay": {"dead", "cancelled", "retrying"}, "cancel": {"pending", "retrying", "dead"}}[verb]
		if !slices.Contains(allowed, *state) {
			return fmt.Errorf("%s: only %s or %s deliveries can be %s", verb, strings.Join(allowed[:2], ", "), allowed[2], pastTense[verb])
		}
		var counts struct {
			Counts map[string]map[string]int `json:"counts"`
		}
		if err := api.call(ctx, http.MethodGet, "/v1/delivery-counts", nil, &counts); err != nil {
			return err
		}
		if *dest != "" && *every {
			return fmt.Errorf("%s: name -destination or -all, not both", verb)
		}
		if *dest == "" && !*every {
			return fmt.Errorf("%s: name -destination, or -all for every destination's %s deliveries", verb, *state)
		}
		n, where, target := 0, "every destination", "*"
		if *dest != "" {
			if err := knownDestination(ctx, api, *dest); err != nil {
				return err
			}
			n, where, target = counts.Counts[*dest][*state], *dest, *dest
		} else {
			for _, byState := range counts.Counts {
				n += byState[*state]
			}
		}
		if n == 0 { // nothing to confirm: "add -yes to replay them all" would be about none
			fmt.Fprintf(stdout, "no %s deliveries to %s: nothing to %s\n", *state, where, verb)
			return nil
		}
		if !*yes {
			return fmt.Errorf("%d %s deliveries to %s match: add -yes to %s them all", n, *state, where, verb)
		}
		return bulkDeliveries(ctx, api, verb, map[string]any{"destination": target, "state": *state, "expect": n}, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", verb, deliveriesUsage)
}

func listDeliveries(ctx context.Context, api *apiClient, q url.Values, limit int, asJSON bool, stdout io.Writer) error {
	for k, v := range q {
		if v[0] == "" {
			delete(q, k)
		}
	}
	page := 1000
	if limit > 0 {
		page = min(limit, 1000)
	}
	q.Set("limit", fmt.Sprint(page))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "DELIVERY\tSTATE\tDESTINATION\tATTEMPTS\tUPDATED\tREASON OR LAST ERROR")
	}
	shown := 0
	for next := "/v1/deliveries?" + q.Encode(); next != "" && (limit == 0 || shown < limit); {
		var res struct {
			Deliveries []listedDelivery `json:"deliveries"`
			Next       string           `json:"next"`
		}
		if err := api.call(ctx, http.MethodGet, next, nil, &res); err != nil {
			return err
		}
		for _, d := range res.Deliveries {
			if limit > 0 && shown == limit {
				break
			}
			shown++
			if asJSON {
				b, _ := json.Marshal(d)
				fmt.Fprintln(stdout, string(b))
				continue
			}
			why := d.Reason
			if why == "" {
				why = d.LastError
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.80s\n", d.ID, d.State, d.Destination, d.AttemptCount, d.UpdatedAt.UTC().Format(time.RFC3339), why)
		}
		next = res.Next
	}
	return tw.Flush()
}

func bulkDeliveries(ctx context.Context, api *apiClient, verb string, body map[string]any, stdout io.Writer) error {
	total, failedTotal := 0, 0
	for {
		var res struct {
			Done   int               `json:"done"`
			Failed []json.RawMessage `json:"failed"`
			More   bool              `json:"more"`
		}
		if err := api.call(ctx, http.MethodPost, "/v1/deliveries/"+verb, body, &res); err != nil {
			return err
		}
		total, failedTotal = total+res.Done, failedTotal+len(res.Failed)
		for _, f := range res.Failed {
			fmt.Fprintf(stdout, "could not %s: %s\n", verb, f)
		}
		if !res.More {
			break
		}
		delete(body, "expect") // the operator confirmed the whole selection; the rest follows
	}
	fmt.Fprintf(stdout, "%s %s", gateway.Plural(total, "delivery", "deliveries"), pastTense[verb])
	if failedTotal > 0 {
		fmt.Fprintf(stdout, ", %d could not be", failedTotal)
	}
	fmt.Fprintln(stdout)
	if failedTotal > 0 {
		return fmt.Errorf("%d deliveries could not be %s", failedTotal, pastTense[verb])
	}
	return nil
}

// knownDestination fails for a destination the gateway does not have (a
// typo would otherwise list nothing and say nothing).
func knownDestination(ctx context.Context, api *apiClient, name string) error {
	var res struct {
		Destinations []struct{ Name string } `json:"destinations"`
	}
	if err := api.call(ctx, http.MethodGet, "/v1/destinations", nil, &res); err != nil {
		return err
	}
	var names []string
	for _, d := range res.Destinations {
		if d.Name == name {
			return nil
		}
		names = append(names, d.Name)
	}
	return fmt.Errorf("no destination %q: the gateway has %s", name, strings.Join(names, ", "))
}

// pastTense names what a bulk action did.
var pastTense = map[string]string{"replay": "replayed", "cancel": "cancelled"}
