// Command gatewayd runs the Results Gateway.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/alerthook"
	"github.com/nhs-genomics/results-gateway/gateway/auth"
	httpapi "github.com/nhs-genomics/results-gateway/gateway/http"
	"github.com/nhs-genomics/results-gateway/gateway/metrics"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/gateway/v2intake"
	"github.com/nhs-genomics/results-gateway/internal/connlimit"
	"github.com/nhs-genomics/results-gateway/internal/testdirectory"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayd:", err)
		os.Exit(1)
	}
}

// run starts the gateway and serves until ctx is cancelled. It prints
// "listening on ADDR" to stdout once it accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "config" && args[1] == "check" {
		path := getenv("GATEWAY_CONFIG")
		if len(args) > 2 {
			path = args[2]
		}
		return checkConfig(path, getenv, stdout)
	}
	if len(args) >= 1 && args[0] == "prune" {
		return pruneCommand(ctx, args[1:], getenv, stdout)
	}
	if len(args) >= 1 && args[0] == "deliveries" {
		return deliveriesCommand(ctx, args[1:], getenv, stdout)
	}
	if len(args) >= 1 && args[0] == "health" {
		return health(ctx, getenv("GATEWAY_CONFIG"), getenv, stdout)
	}
	flags := flag.NewFlagSet("gatewayd", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, `usage:
  gatewayd [-config FILE]          run the gateway (GATEWAY_CONFIG names the file too)
  gatewayd config check FILE       check a configuration without starting anything
  gatewayd health                  the container's health check (exit 0 when /healthz answers)
  gatewayd deliveries ls|replay|cancel ...   operate on deliveries through the running gateway's API
  gatewayd prune [-dry-run]        remove what outlived its retention, through the API
flags:`)
		flags.PrintDefaults()
	}
	configPath := flags.String("config", getenv("GATEWAY_CONFIG"), "configuration file (JSON); default GATEWAY_CONFIG")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 { // a misspelt command must not start (or wait for the store of) a second gateway
		flags.Usage()
		return fmt.Errorf("unknown command %q (a command comes first, its flags after it: gatewayd prune -dry-run)", strings.Join(flags.Args(), " "))
	}
	cfg, err := loadConfig(*configPath, getenv)
	routes, dests, destErr := destinations(cfg, registry()) // the adapters' problems too, all at once
	if err := errors.Join(err, destErr); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	httpTLS, err := newTLSFiles("http", cfg.TLS, log)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", errors.Join(cfg.locate([]error{err})...))
	}
	mllpTLS, err := newTLSFiles("hl7", cfg.HL7.TLS, log)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", errors.Join(cfg.locate([]error{err})...))
	}
	go reloadOnHangup(ctx, log, httpTLS, mllpTLS)
	if httpTLS == nil && !loopback(cfg.Addr) {
		log.Warn("the HTTP API listens beyond this machine without TLS (allowPlainHttp): tokens and results travel in clear", "addr", cfg.Addr)
	}

	store, storeName, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	mapper, err := fhirr4.New(cfg.IdentifierBase)
	if err != nil {
		return err
	}
	tokens := map[string]gateway.Principal{}
	for _, t := range cfg.Tokens {
		tokens[t.Token] = gateway.Principal{Subject: t.Name, Role: t.Role, ODSCode: t.ODSCode}
	}
	authenticators := auth.Chain{auth.NewStaticTokens(tokens)}
	if cfg.JWT != nil {
		verifier, err := auth.NewJWT(ctx, *cfg.JWT, time.Now, log)
		if err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		authenticators = append(authenticators, verifier)
	}
	clock := gateway.SystemClock{}
	observed := metrics.New(store, log)
	alerts := &gateway.Alerts{Log: log}
	if cfg.Alerts.WebhookURL != "" {
		hook := alerthook.New(cfg.Alerts.WebhookURL, cfg.Alerts.Name, nil, log)
		defer hook.Close()
		alerts.Notifier = hook
	}
	dispatcher := &gateway.Dispatcher{
		Queue: store, Destinations: dests, Clock: clock, Log: log, PollInterval: time.Second, Observer: observed, Alerts: alerts,
		Retry: gateway.ExponentialBackoff{Base: seconds(cfg.Retry.BaseSeconds), Cap: seconds(cfg.Retry.CapSeconds)},
	}
	pruner := &gateway.PruneLoop{Store: store, Retention: cfg.Retention.periods(), Clock: clock, Log: log, Observer: observed,
		Interval: time.Duration(cfg.Retention.IntervalMinutes * float64(time.Minute)), Batch: 500}
	directory, err := testdirectory.Load()
	if err != nil {
		return err
	}
	targets, err := newTargets(directory, cfg.TurnaroundTargets)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	intake := &gateway.Intake{Reports: store, Held: store, Router: routes, History: store, Audit: store, Bundles: mapper, Renderer: pdf.Renderer{}, Directory: directory,
		Now: clock.Now, Log: log, Enqueued: dispatcher.Notify, Alerts: alerts}
	// Reports held for a trust with no destination go out now if the
	// configuration gives it one.
	if n, err := intake.RouteHeld(ctx); err != nil {
		log.Error("could not route held reports", "error", err)
	} else if n > 0 {
		log.Info("held reports queued for their new destinations", "reports", n)
	}
	hl7Service := &v2intake.Service{Intake: intake, Senders: cfg.HL7.Senders, Audit: store, Now: clock.Now, Log: log, Observer: observed, Messages: store}
	handler := httpapi.NewServer(httpapi.Deps{
		Intake:     intake,
		DecodeJSON: labjson.Decode,
		DecodeFHIR: func(body []byte, lab string) (*httpapi.FHIRDecoded, error) {
			d, err := fhirr4.Decode(body, lab)
			if err != nil {
				if d != nil { // refused, naming the report: the message log files the refusal under it
					return &httpapi.FHIRDecoded{Report: d.Report}, err
				}
				return nil, err
			}
			return &httpapi.FHIRDecoded{Report: d.Report, Unmapped: d.Unmapped, Warnings: d.Warnings, Locate: d.Locate}, nil
		},
		HL7:            httpHL7(hl7Service),
		Reports:        store,
		Index:          store,
		Audit:          store,
		Queue:          store,
		Held:           store,
		Destinations:   destinationNames(dests),
		PauseChanged:   dispatcher.RefreshPaused,
		Clock:          clock,
		Notify:         dispatcher.Notify,
		Auth:           auth.Sharing{Inner: authenticators, Shares: cfg.Sharing},
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Log:            log,
		Observer:       observed,
		Metrics:        observed.Handler(),
		Messages:       store,
		Activity:       store,
		Prune:          pruner,
		Targets:        targets,
		TargetsVersion: testdirectory.TurnaroundVersion,
		EncodeHL7: func(r *gateway.Report, pdf []byte) []byte {
			return hl7v2.Encode(r, pdf, "RG-VIEW-"+r.ID, hl7v2.Options{})
		},
		SMART: cfg.smart(),
	})

	// The dispatcher stops after the HTTP server, and finishes attempts in flight.
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	go func() { dispatcher.Run(dispatchCtx); close(dispatched) }()
	defer func() { stopDispatch(); <-dispatched }()
	monitor := &gateway.Monitor{Store: store, Alerts: alerts, Clock: clock, Interval: time.Duration(cfg.Alerts.CheckSeconds) * time.Second,
		QueueAge: cfg.queueAgeLimits(), Records: store, AcceptStoreDurability: cfg.Alerts.AcceptStoreDurability,
		AcknowledgeWithin: time.Duration(cfg.Alerts.AcknowledgeWithinDays * float64(24*time.Hour)),
		AcknowledgeEvery:  time.Duration(cfg.Alerts.AcknowledgeScanMinutes * float64(time.Minute))}
	monitored := make(chan struct{})
	go func() { monitor.Run(dispatchCtx); close(monitored) }()
	defer func() { stopDispatch(); <-monitored }()
	pruned := make(chan struct{})
	go func() { pruner.Run(dispatchCtx); close(pruned) }()
	defer func() { stopDispatch(); <-pruned }()

	// MLLP stops with the gateway, or at once if the HTTP listener cannot start.
	mllpCtx, stopMLLP := context.WithCancel(ctx)
	defer stopMLLP()
	mllpDone, err := startMLLP(mllpCtx, cfg.HL7, mllpTLS, hl7Service, log, stdout)
	if err != nil {
		return err
	}
	defer func() { stopMLLP(); <-mllpDone }()

	inner, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln := &connlimit.Listener{Listener: inner, Max: cfg.Limits.MaxConnections, PerAddr: cfg.Limits.MaxConnectionsPerAddress, Name: "http", Log: log}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	if httpTLS != nil {
		srv.TLSConfig = httpTLS.Config("h2", "http/1.1")
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	log.Info("gateway started", "addr", ln.Addr().String(), "tls", httpTLS != nil, "store", storeName, "destinations", len(dests))
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	log.Info("shutting down: finishing requests in flight")
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// checkConfig is "gatewayd config check FILE": it reads the configuration
// and builds everything start-up would (adapters, certificates, keys)
// without listening or opening the store, and prints every problem at once.
func checkConfig(path string, getenv func(string) string, stdout io.Writer) error {
	if path == "" {
		return errors.New("config check: name the file (gatewayd config check FILE) or set GATEWAY_CONFIG")
	}
	cfg, err := loadConfig(path, getenv)
	errs := []error{err}
	if _, _, err := destinations(cfg, checkRegistry()); err != nil {
		errs = append(errs, err)
	}
	discard := slog.New(slog.DiscardHandler)
	for _, l := range []struct {
		what string
		c    ServerTLSConfig
	}{{"http", cfg.TLS}, {"hl7", cfg.HL7.TLS}} {
		if _, err := newTLSFiles(l.what, l.c, discard); err != nil {
			errs = append(errs, cfg.locate([]error{err})...) // at its line and column, like every other problem
		}
	}
	if cfg.JWT != nil {
		if _, err := auth.NewJWT(context.Background(), *cfg.JWT, time.Now, discard); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	fmt.Fprintf(stdout, "configuration %s is valid: %d destinations, %d tokens, %d HL7 senders\n", path, len(cfg.Destinations), len(cfg.Tokens), len(cfg.HL7.Senders))
	return nil
}

// health is "gatewayd health": a container's health check. It asks the
// gateway this configuration describes for /healthz on loopback (the image
// has no shell or curl) and fails unless it answers 200.
func health(ctx context.Context, path string, getenv func(string) string, stdout io.Writer) error {
	// Only the listener matters here: a probe needs no tokens or destinations.
	cfg, err := loadConfig(path, getenv)
	if err != nil && cfg.places == nil && path != "" {
		return fmt.Errorf("configuration:\n%w", err)
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	if cfg.TLS.ClientCAFile != "" { // mutual TLS: without a client certificate, listening is all a probe can see
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("health: %w", err)
		}
		conn.Close()
		fmt.Fprintln(stdout, "listening")
		return nil
	}
	scheme, transport := "http", http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS.CertFile != "" {
		// Only "ok" is read back and no credential is sent, so the
		// certificate (issued for the public name) is not checked here.
		scheme, transport.TLSClientConfig = "https", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/healthz", nil)
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: /healthz answered %d", resp.StatusCode)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}

// reloadOnHangup re-reads the listeners' certificates on SIGHUP.
func reloadOnHangup(ctx context.Context, log *slog.Logger, files ...*tlsFiles) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading TLS certificates")
			for _, f := range files {
				if f != nil {
					f.Reload()
				}
			}
		}
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func destinationNames(dests []*gateway.Destination) []string {
	names := make([]string, 0, len(dests))
	for _, d := range dests {
		names = append(names, d.Name)
	}
	return names
}
