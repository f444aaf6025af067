package httpapi

import (
	"testing"
	"time"
)

// Date search as FHIR defines it: a value covers its whole precision (a
// year, a month, a day, a second), read in London's zone when written
// without one, and each prefix compares against that range.
func TestDateSearchCoversTheValuesPrecision(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	effective := at("2026-09-01T09:15:00Z")
	for _, c := range []struct {
		param string
		want  bool
	}{
		{"2026-09-01", true}, {"eq2026-09-01", true}, {"le2026-09-01", true}, {"ge2026-09-01", true},
		{"gt2026-09-01", false}, {"lt2026-09-01", false}, {"sa2026-09-01", false}, {"eb2026-09-01", false}, {"ne2026-09-01", false},
		{"gt2026-08-31", true}, {"lt2026-09-02", true}, {"le2026-08-31", false}, {"ge2026-09-02", false},
		{"2026-09", true}, {"2026", true}, {"eq2026-08", false}, {"2025", false},
		{"2026-09-01T10:15:00", true},             // London's summer time: 09:15 UTC is 10:15 there
		{"2026-09-01T09:15:00", false},            // 08:15 UTC
		{"2026-09-01T09:15:00Z", true},            // the second itself
		{"gt2026-09-01T09:15:00Z", false},         // not after its own second
		{"ge2026-09-01T09:15:00.000+00:00", true}, // fractional seconds
	} {
		b, err := parseBound(c.param)
		if err != nil {
			t.Errorf("%s: %v", c.param, err)
			continue
		}
		if got := b.ok(effective); got != c.want {
			t.Errorf("date=%s against %s: %v, want %v", c.param, effective.Format(time.RFC3339), got, c.want)
		}
	}
	// London's day, not UTC's: 23:30 UTC on 1 September is 2 September there.
	late := at("2026-09-01T23:30:00Z")
	if b, _ := parseBound("2026-09-02"); !b.ok(late) {
		t.Error("a report at 00:30 London time on 2 September is not found by date=2026-09-02")
	}
	for _, bad := range []string{"el2026-09-01", "ap2026-09-01", "yesterday", "2026-13"} {
		if _, err := parseBound(bad); err == nil {
			t.Errorf("date=%s was accepted", bad)
		}
	}
}

// An EPR polls with _lastUpdated=gt<the meta.lastUpdated it last saw>,
// which the gateway writes to the nanosecond. A value's range is its own
// precision (FHIR search "date" precision): a report stored a few hundred
// microseconds after the one the EPR saw is after that value and must be
// found, or the poller never sees it.
func TestLastUpdatedFractionalSecondsKeepTheirPrecision(t *testing.T) {
	seen, err := time.Parse(time.RFC3339Nano, "2026-12-02T06:32:15.916177794Z")
	if err != nil {
		t.Fatal(err)
	}
	next := seen.Add(300 * time.Microsecond)
	for _, c := range []struct {
		param string
		at    time.Time
		want  bool
	}{
		{"gt2026-12-02T06:32:15.916177794Z", next, true},
		{"gt2026-12-02T06:32:15.916177794Z", seen, false},
		{"ge2026-12-02T06:32:15.916177794Z", seen, true},
		{"eq2026-12-02T06:32:15.916177794Z", next, false},
		{"gt2026-12-02T06:32:15.916Z", seen.Truncate(time.Millisecond).Add(999 * time.Microsecond), false}, // milliseconds still cover their millisecond
		{"gt2026-12-02T06:32:15.9Z", seen, false},                                                          // and tenths their tenth
	} {
		b, err := parseBound(c.param)
		if err != nil {
			t.Fatalf("%s: %v", c.param, err)
		}
		if got := b.ok(c.at); got != c.want {
			t.Errorf("_lastUpdated=%s against %s: %v, want %v", c.param, c.at.Format(time.RFC3339Nano), got, c.want)
		}
	}
}
