package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// TestDeliveriesCommand: an operator lists a destination's dead letters
// from the command line, is told how many a bulk replay would touch, and
// replays them all once the EPR is fixed.
func TestDeliveriesCommand(t *testing.T) {
	base, epr := rejectingEPR(t, "CLI-1", "CLI-2")
	env := map[string]string{"GATEWAY_URL": base, "GATEWAY_TOKEN": operatorToken}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"deliveries"}, args...), func(k string) string { return env[k] }, &out, &out)
		return out.String(), err
	}
	var listing string
	for i := 0; ; i++ {
		out, err := cli("ls", "-destination", "r0a-epr", "-state", "dead")
		if err != nil {
			t.Fatal(err)
		}
		if listing = out; strings.Count(out, "\n") == 3 { // a header and two deliveries
			break
		}
		if i > 400 {
			t.Fatalf("the dead letters never appeared:\n%s", out)
		}
		time.Sleep(25 * time.Millisecond)
	}
	for _, want := range []string{"DELIVERY", "CLI-1~v1~r0a-epr", "CLI-2~v1~r0a-epr", "dead", "the receiver rejected it"} {
		if !strings.Contains(listing, want) {
			t.Errorf("ls lacks %q:\n%s", want, listing)
		}
	}
	if _, err := cli("ls", "-destination", "r0a-eppr"); err == nil || !strings.Contains(err.Error(), `no destination "r0a-eppr"`) {
		t.Fatalf("a misspelt destination: %v", err)
	}
	if _, err := cli("replay", "-destination", "r0a-epr", "-state", "pending", "-yes"); err == nil || !strings.Contains(err.Error(), "only dead, cancelled or retrying deliveries can be replayed") {
		t.Fatalf("replaying a state that cannot be replayed: %v", err)
	}
	if _, err := cli("replay", "-destination", "r0a-epr", "-state", "dead"); err == nil || !strings.Contains(err.Error(), "2 dead deliveries to r0a-epr match: add -yes") {
		t.Fatalf("replay without -yes: %v", err)
	}
	if _, err := cli("replay", "-state", "dead", "-yes"); err == nil || !strings.Contains(err.Error(), "name -destination, or -all") {
		t.Fatalf("replay naming no destination: %v", err)
	}
	if _, err := cli("replay", "-state", "dead", "-destination", "r0a-epr", "-all", "-yes"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("replay naming a destination and -all: %v", err)
	}
	if _, err := cli("replay", "-state", "dead", "-all"); err == nil || !strings.Contains(err.Error(), "2 dead deliveries to every destination match: add -yes") {
		t.Fatalf("replay of every destination's without -yes: %v", err)
	}
	epr.Set(receiver.Accept)
	out, err := cli("replay", "-state", "dead", "-all", "-yes")
	if err != nil || !strings.Contains(out, "2 deliveries replayed") {
		t.Fatalf("replay -yes: %q %v", out, err)
	}
	for i := 0; ; i++ {
		out, err := cli("ls", "-destination", "r0a-epr", "-state", "delivered", "-json")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, `"state":"delivered"`) == 2 {
			break
		}
		if i > 400 {
			t.Fatalf("not delivered after the replay:\n%s", out)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if out, err := cli("replay", "-destination", "r0a-epr", "-state", "dead"); err != nil || !strings.Contains(out, "no dead deliveries to r0a-epr: nothing to replay") {
		t.Fatalf("replay with nothing dead: %q %v", out, err)
	}
	env["GATEWAY_TOKEN"] = "not-an-operator-token"
	if _, err := cli("ls"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token: %v", err)
	}
	delete(env, "GATEWAY_TOKEN")
	if _, err := cli("ls"); err == nil || !strings.Contains(err.Error(), "GATEWAY_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
}
