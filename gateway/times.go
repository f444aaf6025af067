package gateway

import (
	"fmt"
	"time"
	_ "time/tzdata" // London's rules go with the binary, whatever the host has
)

// London is where a time written without a zone is read: UK senders send
// local times, and a clinician's "1 September" is England's day.
var London = mustLoadLondon()

func mustLoadLondon() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err) // cannot happen: time/tzdata is embedded
	}
	return loc
}

// DefaultClockSkew is how far in the future a report's times may be before
// they are refused: labs' clocks drift, and some send local times with the
// wrong zone, but a report issued tomorrow is a data error.
const DefaultClockSkew = time.Hour

// FutureTimes returns a problem for every time in r later than now+skew:
// issue, specimen collection and receipt, authorisation, birth and result
// times. Such a report is refused whatever its source, since a clinician
// would read its dates as facts.
func FutureTimes(r *Report, now time.Time, skew time.Duration) []Problem {
	limit := now.Add(skew)
	var out []Problem
	check := func(path, value string) {
		if t, ok := ParseTime(value); ok && t.After(limit) {
			out = append(out, Problem{Path: path, Message: fmt.Sprintf("%q is in the future (the gateway's clock says %s)", value, now.UTC().Format(time.RFC3339))})
		}
	}
	check("issued", r.Issued)
	check("patient.birthDate", r.Patient.BirthDate)
	for i, s := range r.Specimens {
		check(fmt.Sprintf("specimens[%d].collected", i), s.Collected)
		check(fmt.Sprintf("specimens[%d].received", i), s.Received)
	}
	for i, a := range r.Authorisers {
		check(fmt.Sprintf("authorisers[%d].authorisedAt", i), a.AuthorisedAt)
	}
	for i, g := range r.ResultGroups {
		check(fmt.Sprintf("resultGroups[%d].collected", i), g.Collected)
		for j, o := range g.Observations {
			check(fmt.Sprintf("resultGroups[%d].observations[%d].observed", i, j), o.Observed)
		}
	}
	return out
}
